/// The one UTF-8 validator: walks `bytes` as Unicode scalars and stops at the first invalid sequence.
package enum UTF8Scalars {
    /// True when `bytes` is valid UTF-8 and `accept` returns true for every scalar.
    package static func all(_ bytes: some Sequence<UInt8>, _ accept: (Unicode.Scalar) -> Bool = { _ in true }) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): if !accept(scalar) { return false }
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
