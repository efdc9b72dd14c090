import HTTP1
import Testing

@Suite("Response encoding, dates and reason phrases")
struct HTTPResponseTests {
    static let knownDate = HTTPDate(secondsSince1970: 784_111_777)

    @Test func jsonResponseEncodesStatusLineHeadersLengthDateConnectionAndBody() {
        let response = HTTPResponse.json(
            status: 200,
            #"{"delivery_id":"x","duplicate":false}"#,
            headers: [HTTPHeader(name: "X-Request", value: "1")]
        )
        let text = String(decoding: response.encoded(keepAlive: true, date: Self.knownDate), as: UTF8.self)
        #expect(
            text
                == "HTTP/1.1 200 OK\r\n"
                + "Content-Type: application/json\r\n"
                + "X-Request: 1\r\n"
                + "Content-Length: 37\r\n"
                + "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                + "Connection: keep-alive\r\n"
                + "\r\n"
                + #"{"delivery_id":"x","duplicate":false}"#
        )
    }

    @Test func closingResponseSaysConnectionClose() {
        let response = HTTPResponse(status: 404, body: Array("nope".utf8))
        let text = String(decoding: response.encoded(keepAlive: false, date: Self.knownDate), as: UTF8.self)
        #expect(
            text
                == "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                + "Connection: close\r\n\r\nnope"
        )
    }

    @Test func encoderOwnsLengthDateConnectionAndTransferEncoding() {
        let response = HTTPResponse(
            status: 405,
            headers: [
                HTTPHeader(name: "content-length", value: "999"), HTTPHeader(name: "Allow", value: "POST"),
                HTTPHeader(name: "Connection", value: "upgrade"), HTTPHeader(name: "DATE", value: "yesterday"),
                HTTPHeader(name: "Transfer-Encoding", value: "chunked"),
            ]
        )
        let text = String(decoding: response.encoded(keepAlive: true, date: Self.knownDate), as: UTF8.self)
        #expect(
            text
                == "HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\nContent-Length: 0\r\n"
                + "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: keep-alive\r\n\r\n"
        )
    }

    @Test func headerTextCannotSplitTheResponse() {
        let response = HTTPResponse(
            status: 503,
            headers: [HTTPHeader(name: "Retry-After\r\nX-Evil", value: "5\r\nSet-Cookie: a=b\u{0}")]
        )
        let text = String(decoding: response.encoded(keepAlive: false, date: Self.knownDate), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\nRetry-AfterX-Evil: 5  Set-Cookie: a=b \r\n"))
    }

    @Test(arguments: [100, 204])
    func informationalAndNoContentResponsesHaveNoLengthOrBody(status: Int) {
        let response = HTTPResponse(status: status, body: Array("ignored".utf8))
        let text = String(decoding: response.encoded(keepAlive: true, date: Self.knownDate), as: UTF8.self)
        #expect(!text.contains("Content-Length"))
        #expect(text.hasSuffix("Connection: keep-alive\r\n\r\n"))
    }

    @Test func continueInterimResponseIsTheBareStatusLine() {
        #expect(String(decoding: HTTPResponse.continueBytes, as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
    }

    @Test func errorResponseEscapesQuotesBackslashesAndControlCharacters() {
        let response = HTTPResponse.error(
            status: 400,
            code: "bad_request",
            message: "a \"quoted\" \\path\\ with\nnewline\ttab\r\u{01}\u{1F}\u{08}\u{0C} and café",
            headers: [HTTPHeader(name: "Allow", value: "POST")]
        )
        #expect(response.status == 400)
        #expect(
            response.headers == [
                HTTPHeader(name: "Content-Type", value: "application/json"), HTTPHeader(name: "Allow", value: "POST"),
            ]
        )
        #expect(
            String(decoding: response.body, as: UTF8.self)
                == #"{"error":"bad_request","message":"a \"quoted\" \\path\\ with\nnewline\ttab\r\u0001\u001f\b\f and café"}"#
        )
    }

    @Test func parseErrorsMapToTheSpecErrorBody() {
        let error = HTTPParseError(.headersTooLarge, "The request head is larger than 16384 bytes.")
        let response = HTTPResponse.error(status: error.status, code: error.code.name, message: error.message)
        let text = String(decoding: response.encoded(keepAlive: false, date: Self.knownDate), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(
            text.hasSuffix(
                #"{"error":"headers_too_large","message":"The request head is larger than 16384 bytes."}"#
            )
        )
    }

    @Test(
        arguments: [
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_700_000_000, "Tue, 14 Nov 2023 22:13:20 GMT"),
            (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 GMT"),
            (-62_135_596_800, "Mon, 01 Jan 0001 00:00:00 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ] as [(Int64, String)])
    func dateRendersAsIMFFixdate(seconds: Int64, expected: String) {
        #expect(HTTPDate(secondsSince1970: seconds).imfFixdate == expected)
    }

    @Test func everyDayOfFourHundredYearsHasAValidCalendarDate() {
        // Walk 146,097 days (one Gregorian cycle) from 1970 and check day/month rollover and weekdays.
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        var previousDay = 31
        for day in 0..<146_097 {
            let text = HTTPDate(secondsSince1970: Int64(day) * 86_400 + 43_200).imfFixdate
            #expect(text.hasPrefix(weekdays[day % 7]), "day \(day): \(text)")
            let dayOfMonth = Int(text.dropFirst(5).prefix(2)) ?? 0
            #expect(dayOfMonth == previousDay + 1 || (dayOfMonth == 1 && previousDay >= 28), "day \(day): \(text)")
            previousDay = dayOfMonth
            if dayOfMonth == 0 { return }
        }
    }

    @Test(arguments: [
        (100, "Continue"), (200, "OK"), (400, "Bad Request"), (403, "Forbidden"), (404, "Not Found"),
        (405, "Method Not Allowed"), (408, "Request Timeout"), (411, "Length Required"), (413, "Content Too Large"),
        (431, "Request Header Fields Too Large"), (500, "Internal Server Error"), (503, "Service Unavailable"),
        (505, "HTTP Version Not Supported"), (299, ""),
    ])
    func reasonPhrasesFollowRFC9110(status: Int, phrase: String) {
        #expect(HTTPStatus.reasonPhrase(status) == phrase)
    }
}
