import HalfFloat

/// Typed reads of whole tensors, widening narrower element types. Values are little-endian in the
/// file; `loadUnaligned` is used because nothing guarantees a tensor is aligned to its element size.
extension SafeTensorsFile {
    /// F32, F16, BF16 or F64 values as `Float` (F64 rounds to nearest). Integer dtypes are an error.
    public func floats(_ name: String) throws -> [Float] {
        let info = try info(name)
        return try withBytes(of: info) { bytes -> [Float] in
            switch info.dtype {
            case .f32: return Self.copyOrDecode(bytes, as: UInt32.self) { Float(bitPattern: $0) }
            case .f16: return Self.decode(bytes, as: UInt16.self, HalfFloat.float(half:))
            case .bf16: return Self.decode(bytes, as: UInt16.self, HalfFloat.float(bfloat16:))
            case .f64: return Self.decode(bytes, as: UInt64.self) { Float(Double(bitPattern: $0)) }
            case .i64, .i32, .i16, .i8, .u8, .bool:
                throw SafeTensorsError.wrongDType(file: url.path, key: name, dtype: info.dtype, requested: "Float")
            }
        }
    }

    /// Like `floats(_:)`, but the tensor's shape must equal `shape` exactly; model loaders use
    /// this so a wrong checkpoint fails naming the key and both shapes.
    public func floats(_ name: String, shape: [Int]) throws -> [Float] {
        let info = try info(name)
        guard info.shape == shape else {
            throw SafeTensorsError.shapeMismatch(file: url.path, key: name, expected: shape, actual: info.shape)
        }
        return try floats(name)
    }

    /// I64 values, or any narrower integer (and BOOL) widened. Float dtypes are an error.
    public func int64s(_ name: String) throws -> [Int64] {
        let info = try info(name)
        return try withBytes(of: info) { bytes -> [Int64] in
            switch info.dtype {
            case .i64: return Self.copyOrDecode(bytes, as: UInt64.self) { Int64(bitPattern: $0) }
            case .i32: return Self.decode(bytes, as: UInt32.self) { Int64(Int32(bitPattern: $0)) }
            case .i16: return Self.decode(bytes, as: UInt16.self) { Int64(Int16(bitPattern: $0)) }
            case .i8: return Self.decode(bytes, as: UInt8.self) { Int64(Int8(bitPattern: $0)) }
            case .u8, .bool: return Self.decode(bytes, as: UInt8.self) { Int64($0) }
            case .f64, .f32, .f16, .bf16:
                throw SafeTensorsError.wrongDType(file: url.path, key: name, dtype: info.dtype, requested: "Int64")
            }
        }
    }

    /// For element types stored as-is: one memcpy on little-endian hosts (also keeps debug builds,
    /// where the per-element loop is slow, loading checkpoints quickly); `decode` elsewhere.
    private static func copyOrDecode<Raw: FixedWidthInteger, Element>(
        _ bytes: UnsafeRawBufferPointer, as raw: Raw.Type, _ transform: (Raw) -> Element
    ) -> [Element] {
        #if _endian(little)
        precondition(MemoryLayout<Element>.size == MemoryLayout<Raw>.size)
        let count = bytes.count / MemoryLayout<Element>.size
        return [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
            initialized = count
        }
        #else
        return decode(bytes, as: raw, transform)
        #endif
    }

    /// Reads consecutive little-endian `Raw` words and maps each one.
    private static func decode<Raw: FixedWidthInteger, Element>(
        _ bytes: UnsafeRawBufferPointer, as _: Raw.Type, _ transform: (Raw) -> Element
    ) -> [Element] {
        let count = bytes.count / MemoryLayout<Raw>.size
        return [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count {
                let raw = bytes.loadUnaligned(fromByteOffset: i * MemoryLayout<Raw>.size, as: Raw.self)
                buffer.initializeElement(at: i, to: transform(Raw(littleEndian: raw)))
            }
            initialized = count
        }
    }
}
