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
