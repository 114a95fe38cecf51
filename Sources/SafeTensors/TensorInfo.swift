/// One header entry, validated: `byteRange` lies inside the data section (offsets relative to
/// its first byte) and holds exactly `shape.product × dtype.size` bytes.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    public let byteRange: Range<Int>

    /// Number of elements; 1 for a scalar (`shape == []`).
    public var count: Int { byteRange.count / dtype.size }
}
