import HalfFloatVector
import HalfFloat
import HDF5

/// How the values of one cached tensor are stored. Lossy except `fp32`; the loss of every
/// block written is measured (`EncodedRows.maxAbsError`) so that the cache can report it.
public enum TensorCodec: String, Codable, CaseIterable, Sendable, CustomStringConvertible {
    /// IEEE binary32, bit for bit.
    case fp32
    /// IEEE binary16, rounded to nearest, ties to even; |x| ≥ 65520 becomes ±infinity; relative error ≤ 2⁻¹¹
    /// for normal results (|x| ≥ 2⁻¹⁴), absolute error ≤ 2⁻²⁵ below.
    case fp16
    /// bfloat16 (the top 16 bits of a Float), rounded to nearest, ties to even; relative error ≤ 2⁻⁸.
    case bf16
    /// Symmetric per-row int8: scale = maxAbs/127, q = round(x/scale) in [-127, 127]; error ≤ scale/2.
    case int8

    /// The element type of the HDF5 dataset holding the encoded values.
    public var storedType: H5ElementType {
        switch self {
        case .fp32: return .float32
        case .fp16: return .float16
        case .bf16: return .bfloat16
        case .int8: return .int8
        }
    }

    public var bytesPerValue: Int { storedType.size }

    public var description: String { rawValue }
}

/// Rows of `width` Floats encoded for storage.
///
/// int8: symmetric per-row scale = maxAbs/127 (scale 0 for an all-zero row; the smallest subnormal when
/// maxAbs/127 underflows), q = round(x/scale), ties to even, clamped to [-127, 127]; decoded as q·scale.
/// A row holding NaN or ±infinity cannot be scaled: it is stored with scale NaN and all codes 0, so it
/// decodes to NaN everywhere, and `maxAbsError` is +infinity.
public struct EncodedRows: Sendable {
    /// The stored little-endian representation, rows × width × bytesPerValue.
    public var bytes: [UInt8]
    /// int8 only: one per row; empty otherwise.
    public var scales: [Float]
    /// max |decode(encode(x)) - x| over these rows (0 for fp32). fp16/bf16 keep a non-finite input as itself,
    /// which counts as error 0; a finite input that overflows to infinity in fp16 makes it +infinity.
    public var maxAbsError: Float

    public init(bytes: [UInt8], scales: [Float], maxAbsError: Float) {
        self.bytes = bytes
        self.scales = scales
        self.maxAbsError = maxAbsError
    }
}

/// Encodes and decodes rows of Floats for the cache. One pass per block, branch-free per element so that
/// the loops vectorise; no allocation besides the returned arrays.
public enum RowCodec {
    /// values (rows, width) → stored bytes (rows, width, bytesPerValue) [+ scales (rows) for int8].
    public static func encode(_ values: UnsafeBufferPointer<Float>, width: Int, codec: TensorCodec) -> EncodedRows {
        precondition(width > 0, "RowCodec.encode: width must be positive, got \(width)")
        precondition(values.count % width == 0, "RowCodec.encode: \(values.count) values are not rows of \(width)")
        let count = values.count
        var scales: [Float] = []
        var maxErrorBits: UInt32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count * codec.bytesPerValue) { buffer, initialized in
            switch codec {
            case .fp32:
                #if _endian(little)
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(values))
                #else
                buffer.withMemoryRebound(to: UInt32.self) { out in
                    for i in 0..<count { out[i] = values[i].bitPattern.littleEndian }
                }
                #endif
            case .fp16:
                maxErrorBits = buffer.withMemoryRebound(to: UInt16.self) { encodeHalves(values, into: $0) }
            case .bf16:
                maxErrorBits = buffer.withMemoryRebound(to: UInt16.self) { encodeBfloat16s(values, into: $0) }
            case .int8:
                let rows = count / width
                scales = [Float](repeating: 0, count: rows)
                buffer.withMemoryRebound(to: Int8.self) { out in
                    for r in 0..<rows {
                        let row = UnsafeBufferPointer(rebasing: values[(r * width)..<((r + 1) * width)])
                        let codes = UnsafeMutableBufferPointer(rebasing: out[(r * width)..<((r + 1) * width)])
                        let (scale, errorBits) = quantizeRow(row, into: codes)
                        scales[r] = scale
                        maxErrorBits = max(maxErrorBits, errorBits)
                    }
                }
            }
            initialized = buffer.count
        }
        return EncodedRows(bytes: bytes, scales: scales, maxAbsError: Float(bitPattern: maxErrorBits))
    }

    /// Stored bytes (rows, width, bytesPerValue) [+ scales (rows) for int8] → out (rows, width).
    /// `bytes` need not be aligned. `scales` is required for int8 and ignored otherwise.
    public static func decode(_ bytes: UnsafeRawBufferPointer, scales: UnsafeBufferPointer<Float>?, width: Int,
                              codec: TensorCodec, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(width > 0, "RowCodec.decode: width must be positive, got \(width)")
        precondition(out.count % width == 0, "RowCodec.decode: \(out.count) outputs are not rows of \(width)")
        precondition(bytes.count == out.count * codec.bytesPerValue,
                     "RowCodec.decode: \(bytes.count) bytes for \(out.count) \(codec) values")
        let count = out.count
        switch codec {
        case .fp32:
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
        case .fp16:
            for i in 0..<count {
                out[i] = HalfFloat.float(half: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .bf16: decodeBfloat16s(bytes, into: out)
        case .int8:
            guard let scales else { preconditionFailure("RowCodec.decode: int8 needs the per-row scales") }
            let rows = count / width
            precondition(scales.count == rows, "RowCodec.decode: \(scales.count) scales for \(rows) rows")
            for r in 0..<rows {
                let scale = scales[r]
                let base = r * width
                for i in base..<(base + width) { out[i] = Float(Int8(bitPattern: bytes[i])) * scale }
            }
        }
    }

    /// Little-endian bfloat16 bits → values: a function of its own, because inside the switch beside
    /// the binary16 loop the optimiser left it at 2/3 of this speed (measured, RowCodecTests).
    static func decodeBfloat16s(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<out.count {
            out[i] = HalfFloat.float(bfloat16: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        }
    }

    /// values → binary16 bits (little-endian); returns the bit pattern of the largest error. The loops keep
    /// their accumulator in a local (not a captured variable), so that they vectorise.
    static func encodeHalves(_ values: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<UInt16>) -> UInt32 {
        #if arch(x86_64)
        // F16C (the CLI requires it): eight values an instruction, the bits of the loop below.
        return hfv_encode_halves(values.baseAddress, out.baseAddress, values.count)
        #else
        return encodeHalvesPortably(values, into: out)
        #endif
    }

    /// `encodeHalves` in Swift, element by element: for other CPUs, and the reference the tests
    /// hold the hardware conversion to.
    static func encodeHalvesPortably(_ values: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<UInt16>) -> UInt32 {
        var worst: UInt32 = 0
        for i in 0..<values.count {
            let x = values[i]
            let h = HalfFloat.half(x)
            out[i] = h.littleEndian
            worst = max(worst, errorBits(x, HalfFloat.float(half: h)))
        }
        return worst
    }

    static func encodeBfloat16s(_ values: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<UInt16>) -> UInt32 {
        var worst: UInt32 = 0
        for i in 0..<values.count {
            let x = values[i]
            let b = HalfFloat.bfloat16(x)
            out[i] = b.littleEndian
            worst = max(worst, errorBits(x, Float(bitPattern: UInt32(b) << 16)))
        }
        return worst
    }

    // MARK: - Per-element error (the 16-bit conversions are HalfFloat's)

    /// The bit pattern of |decoded - x|, 0 when x is not finite (kept as itself). Non-negative Floats order
    /// like their bit patterns, so the maximum error is an integer maximum (which vectorises, unlike a
    /// Float max without fast-math).
    @inline(__always)
    static func errorBits(_ x: Float, _ decoded: Float) -> UInt32 {
        let error = abs(decoded - x).bitPattern
        return x.bitPattern & 0x7f80_0000 == 0x7f80_0000 ? 0 : error
    }

    /// One int8 row: returns its scale and the bit pattern of its largest |q·scale - x|.
    @inline(__always)
    static func quantizeRow(_ row: UnsafeBufferPointer<Float>, into codes: UnsafeMutableBufferPointer<Int8>)
        -> (scale: Float, errorBits: UInt32) {
        // maxAbs as the largest magnitude bit pattern: above 0x7f7fffff means the row holds inf or NaN.
        var maxBits: UInt32 = 0
        for x in row { maxBits = max(maxBits, x.bitPattern & 0x7fff_ffff) }
        if maxBits > 0x7f7f_ffff {
            for i in codes.indices { codes[i] = 0 }
            return (.nan, Float.infinity.bitPattern)
        }
        let maxAbs = Float(bitPattern: maxBits)
        if maxAbs == 0 {
            for i in codes.indices { codes[i] = 0 }
            return (0, 0)
        }
        var scale = maxAbs / 127
        if scale == 0 { scale = .leastNonzeroMagnitude }  // maxAbs/127 underflowed (maxAbs < 64·2⁻¹⁴⁹)
        var errorBits: UInt32 = 0
        for i in row.indices {
            let x = row[i]
            var v = x / scale  // |v| ≤ 127 up to rounding; clamped below
            v = v < -127 ? -127 : (v > 127 ? 127 : v)
            // Adding 1.5·2²³ rounds v to an integer (nearest, ties to even) held in the low mantissa bits.
            let shifted = v + 12_582_912
            let q = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
            codes[i] = Int8(truncatingIfNeeded: q)
            errorBits = max(errorBits, abs(Float(q) * scale - x).bitPattern)
        }
        return (scale, errorBits)
    }
}
