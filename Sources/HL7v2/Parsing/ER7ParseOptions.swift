/// How strictly to read ER7.
public struct ER7ParseOptions: Sendable, Hashable {
    /// The largest message accepted, in bytes (at most 512 MiB).
    public var maxMessageBytes: Int = 64 << 20
    /// Reject a message whose MSH-9 (message type) is empty: it cannot be routed, mapped or acknowledged properly.
    public var requireMessageType: Bool = true
    /// The character set assumed when MSH-18 is empty.
    public var undeclaredCharacterSet: HL7CharacterSet = HL7CharacterSet.undeclaredDefault

    public init() {}
}
