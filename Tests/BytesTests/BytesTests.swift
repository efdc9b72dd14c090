import Bytes
import Testing

@Suite("Hex and UTF-8")
struct BytesTests {
    @Test func hexIsTwoDigitsPerByte() {
        #expect(Hex.string([0x00, 0x0F, 0xA5, 0xFF]) == "000fa5ff")
        #expect(Hex.string([0xDE, 0xAD], uppercase: true) == "DEAD")
        #expect(Hex.string([UInt8]()) == "")
        #expect(Hex.string(0x1F, width: 8) == "0000001f")
        #expect(Hex.string(0x1234, width: 2) == "34")
    }

    @Test func utf8IsValidatedScalarByScalar() {
        #expect(UTF8Scalars.all(Array("plain é 😀".utf8)))
        #expect(UTF8Scalars.all([UInt8]()))
        #expect(!UTF8Scalars.all([0x61, 0xFF]))
        #expect(!UTF8Scalars.all([0xC3, 0x28]))
        #expect(!UTF8Scalars.all([0xED, 0xA0, 0x80]))  // an encoded surrogate
        #expect(!UTF8Scalars.all(Array("a\u{1}b".utf8)) { $0.value >= 0x20 })
    }

    @Test func sameBytesComparesEncodingsNotCanonicalEquivalence() {
        let composed = "caf\u{E9}"  // NFC é
        let decomposed = "cafe\u{301}"  // NFD e + combining acute: == in Swift, other bytes
        #expect(composed == decomposed)
        #expect(!UTF8Scalars.sameBytes(composed, decomposed))
        #expect(UTF8Scalars.sameBytes(composed, "caf" + "\u{E9}"))
        #expect(UTF8Scalars.sameBytes("", ""))
        #expect(!UTF8Scalars.sameBytes("acme", "acm"))
        #expect(!UTF8Scalars.sameBytes("acme-bank", "acme-banK"))
        // Small (inline) and large (heap) strings, equal and differing in the last byte.
        let long = String(repeating: "partner-", count: 8)
        #expect(UTF8Scalars.sameBytes(long + "x", String(long + "x")))
        #expect(!UTF8Scalars.sameBytes(long + "x", long + "y"))
        #expect(!UTF8Scalars.sameBytes("a\u{0}b", "a\u{0}c"))  // a NUL does not end the comparison
    }
}

@Suite("UTF-8 fast path")
struct UTF8FastPathTests {
    @Test func theASCIIFastPathAgreesWithTheScalarWalkAtEveryAlignment() {
        let samples: [[UInt8]] = [
            Array("plain ascii json {\"a\":1}".utf8), Array("ascii then é then more ascii ascii".utf8),
            Array(repeating: 0x61, count: 15) + [0xFF], Array(repeating: 0x61, count: 16) + [0xC3, 0x28],
            Array(repeating: 0x61, count: 7) + [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [],
            Array(repeating: 0x61, count: 9) + [0xED, 0xA0, 0x80],
        ]
        for sample in samples {
            for prefix in 0..<9 {
                let bytes = Array(repeating: UInt8(0x20), count: prefix) + sample
                #expect(UTF8Scalars.isValid(bytes) == UTF8Scalars.all(bytes), "\(bytes)")
            }
        }
    }
}
