/// A fixed-size, 64-byte aligned Float buffer allocated once and reused.
///
/// Kernels take raw pointers (outputs first, then inputs, weights, sizes last);
/// buffers own the memory so that no per-step allocation happens in hot loops.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "negative buffer size")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count, zeroed: false)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { pointer.deallocate() }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    public func zero() { zeroFill(pointer, count: count) }

    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// A view of `count` elements starting at `offset`.
    public func slice(_ offset: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
        precondition(offset >= 0 && offset + count <= self.count, "slice \(offset)..<\(offset + count) outside buffer of \(self.count)")
        return pointer + offset
    }
}
