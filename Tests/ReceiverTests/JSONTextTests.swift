import Receiver
import Testing

@Suite("JSON text")
struct JSONTextTests {
    @Test(arguments: [
        #"{"a":1}"#, #"[1,2,3]"#, #""text""#, "true", "null", "-0.5e10", #"{"nested":{"deep":[{"x":"\u00e9"}]}}"#,
        " \n{\"spaces\" : [ ] }\t", #""\ud83d\ude00""#, "1e-16000", "12345678901234567890",
    ])
    func jsonbAcceptsThese(_ text: String) {
        #expect(JSONText.isJSONBCompatible(Array(text.utf8)))
    }

    @Test(arguments: [
        "", " ", "{", #"{"a":}"#, "[1,]", "01", "1.", ".5", "+1", "NaN", #""\u0000""#, #""\ud800""#, #""\udc00x""#,
        "1e-20000", "1e200000", "{} {}", "tru", #"{'a':1}"#, "\"raw\ncontrol\"",
    ])
    func jsonbRefusesThese(_ text: String) {
        #expect(!JSONText.isJSONBCompatible(Array(text.utf8)))
    }

    /// Strings are scanned eight bytes at a time: a quote, a backslash escape or a raw control character
    /// must be found at every offset within and across those words, next to multi-byte characters.
    @Test func stringContentIsCheckedAtEveryOffset() {
        for offset in 0..<20 {
            let before = String(repeating: "a", count: offset)
            let after = String(repeating: "é", count: 9 - offset % 3) + "z"
            #expect(JSONText.isJSONBCompatible(Array("\"\(before)\(after)\"".utf8)))
            #expect(JSONText.isJSONBCompatible(Array("\"\(before)\\\"\\n\\u00e9\(after)\"".utf8)))
            #expect(JSONText.isJSONBCompatible(Array("[\"\(before)\",\"\(after)\"]".utf8)))
            for control in [0x00, 0x01, 0x0A, 0x1F] as [UInt8] {
                #expect(!JSONText.isJSONBCompatible(Array("\"\(before)".utf8) + [control] + Array("\(after)\"".utf8)))
            }
            #expect(!JSONText.isJSONBCompatible(Array("\"\(before)\"\(after)\"".utf8)))  // a stray quote
            #expect(!JSONText.isJSONBCompatible(Array("\"\(before)\\x\(after)\"".utf8)))  // an unknown escape
            #expect(!JSONText.isJSONBCompatible(Array("\"\(before)\(after)".utf8)))  // never closed
        }
    }

    @Test func invalidUTF8IsNotJSON() {
        #expect(!JSONText.isJSONBCompatible([0x22, 0xC3, 0x28, 0x22]))
    }

    @Test func nestingDeeperThanTheLimitIsNotJSON() {
        let deep = String(repeating: "[", count: 2_000) + String(repeating: "]", count: 2_000)
        #expect(!JSONText.isJSONBCompatible(Array(deep.utf8)))
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(JSONText.isJSONBCompatible(Array(fine.utf8)))
    }
}
