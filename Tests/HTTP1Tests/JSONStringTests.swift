import HTTP1
import Testing

/// The one JSON string escaper: error bodies, `headers`, `--json` and log lines all spell strings this way.
@Suite("JSON strings")
struct JSONStringTests {
    @Test func quotesBackslashesAndControlsAreEscaped() {
        #expect(JSONString.quoted("a\"b\\c\n\t\u{1}é") == #""a\"b\\c\n\t\u0001é""#)
        #expect(JSONString.quoted("\u{8}\u{C}\r\u{1F}\u{7F}") == #""\b\f\r\u001f\u007f""#)
        #expect(JSONString.quoted("") == #""""#)
        // C1 controls are escaped; the rest of Latin-1 Supplement and beyond stay UTF-8.
        #expect(JSONString.quoted("a\u{85}b\u{9F}\u{A0}é\u{100}") == "\"a\\u0085b\\u009f\u{A0}é\u{100}\"")
    }

    /// Plain runs are copied whole: every escape must still be found at every offset, at the ends too.
    @Test func escapesAreFoundAtEveryOffset() {
        let cases: [(String, String)] = [
            ("\"", #"\""#), ("\\", #"\\"#), ("\n", #"\n"#), ("\u{0}", #"\u0000"#), ("\u{7F}", #"\u007f"#),
            ("\u{80}", #"\u0080"#), ("\u{9F}", #"\u009f"#), ("\u{A0}", "\u{A0}"), ("é", "é"),
        ]
        for (raw, escaped) in cases {
            for offset in 0..<12 {
                let before = String(repeating: "x", count: offset)
                let after = String(repeating: "y", count: 11 - offset)
                #expect(JSONString.quoted(before + raw + after) == "\"" + before + escaped + after + "\"")
                #expect(JSONString.quoted(before + raw + raw) == "\"" + before + escaped + escaped + "\"")
            }
        }
    }

    @Test func errorBodiesUseTheSameEscaper() {
        let response = HTTPResponse.error(status: 400, code: "bad", message: "a\u{7F}\"b")
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"error":"bad","message":"a\u007f\"b"}"#)
    }
}
