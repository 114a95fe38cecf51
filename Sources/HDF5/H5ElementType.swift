import CHDF5
import HalfFloat

/// How one element of a dataset is stored (always little-endian in files this module writes).
public enum H5ElementType: String, Sendable, CaseIterable, CustomStringConvertible {
    case float64, float32
    /// IEEE 754 half precision (1 sign, 5 exponent, 10 mantissa bits).
    case float16
    /// bfloat16 (1 sign, 8 exponent, 7 mantissa bits): float32 with the low 16 bits dropped.
    case bfloat16
    case int8, uint8, int16, uint16, int32, uint32, int64

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .int8, .uint8: return 1
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .float32, .int32, .uint32: return 4
        case .float64, .int64: return 8
        }
    }

    public var description: String { rawValue }

    var isFloat: Bool { [.float64, .float32, .float16, .bfloat16].contains(self) }
    var isSigned: Bool { ![.uint8, .uint16, .uint32].contains(self) }
    var is16BitFloat: Bool { self == .float16 || self == .bfloat16 }

    /// Significand bits including the implicit one (floats), or value bits (integers).
    private var precisionBits: Int {
        switch self {
        case .float64: return 53
        case .float32: return 24
        case .float16: return 11
        case .bfloat16: return 8
        default: return size * 8 - (isSigned ? 1 : 0)
        }
    }

    private var exponentBits: Int {
        switch self {
        case .float64: return 11
        case .float32, .bfloat16: return 8
        case .float16: return 5
        default: return 0
        }
    }

    /// True when every value of this type is represented exactly by `other`.
    func convertsExactly(to other: H5ElementType) -> Bool {
        if self == other { return true }
        switch (isFloat, other.isFloat) {
        case (false, false):
            if isSigned && !other.isSigned { return false }
            return other.precisionBits >= precisionBits
        case (false, true):
            return other.precisionBits >= precisionBits
        case (true, true):
            return other.precisionBits >= precisionBits && other.exponentBits >= exponentBits
        case (true, false):
            return false
        }
    }

    /// Recognises the element type of an HDF5 datatype, or nil when it is none of these.
    init?(datatype: hid_t) {
        let size = H5Tget_size(datatype)
        switch H5Tget_class(datatype) {
        case H5T_FLOAT:
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            guard H5Tget_fields(datatype, &spos, &epos, &esize, &mpos, &msize) >= 0 else { return nil }
            switch (size, esize, msize) {
            case (8, 11, 52): self = .float64
            case (4, 8, 23): self = .float32
            case (2, 5, 10): self = .float16
            case (2, 8, 7): self = .bfloat16
            default: return nil
            }
        case H5T_INTEGER:
            let signed = H5Tget_sign(datatype) == H5T_SGN_2
            switch (size, signed) {
            case (1, true): self = .int8
            case (1, false): self = .uint8
            case (2, true): self = .int16
            case (2, false): self = .uint16
            case (4, true): self = .int32
            case (4, false): self = .uint32
            case (8, true): self = .int64
            default: return nil
            }
        default:
            return nil
        }
    }

    /// Runs body with an HDF5 datatype id for this element type: the little-endian
    /// file type (`stored`) or the native memory type. 16-bit floats have no predefined
    /// HDF5 type; theirs is created for the call and closed after it.
    @discardableResult
    func withDatatype<R>(stored: Bool, _ site: H5Site, _ body: (hid_t) throws -> R) throws -> R {
        let id: hid_t
        switch self {
        case .float64: id = stored ? dh5_ieee_f64le() : dh5_native_double()
        case .float32: id = stored ? dh5_ieee_f32le() : dh5_native_float()
        case .int8: id = stored ? dh5_std_i8le() : dh5_native_int8()
        case .uint8: id = stored ? dh5_std_u8le() : dh5_native_uint8()
        case .int16: id = stored ? dh5_std_i16le() : dh5_native_int16()
        case .uint16: id = stored ? dh5_std_u16le() : dh5_native_uint16()
        case .int32: id = stored ? dh5_std_i32le() : dh5_native_int32()
        case .uint32: id = stored ? dh5_std_u32le() : dh5_native_uint32()
        case .int64: id = stored ? dh5_std_i64le() : dh5_native_int64()
        case .float16, .bfloat16:
            let created = try site.check(dh5_create_float16(self == .bfloat16 ? 1 : 0), "create the \(self) datatype")
            defer { H5Tclose(created) }
            return try body(created)
        }
        return try body(id)
    }
}

/// A Swift number type that datasets and codecs read and write directly.
/// Conformances: Float, Double, Int8, UInt8, Int16, UInt16, Int32, UInt32, Int64.
///
/// Writes and reads must not lose information: a value type converts to a stored
/// type only when every value is exact there (Int32 → int64, Float → float64,
/// int16 → Float ...). The one narrowing is Float → float16 / bfloat16, rounded to
/// nearest even by this module (see `Float16Bits`); HDF5 never converts 16-bit floats.
public protocol H5Scalar {
    static var h5ElementType: H5ElementType { get }
}

extension Float: H5Scalar { public static var h5ElementType: H5ElementType { .float32 } }
extension Double: H5Scalar { public static var h5ElementType: H5ElementType { .float64 } }
extension Int8: H5Scalar { public static var h5ElementType: H5ElementType { .int8 } }
extension UInt8: H5Scalar { public static var h5ElementType: H5ElementType { .uint8 } }
extension Int16: H5Scalar { public static var h5ElementType: H5ElementType { .int16 } }
extension UInt16: H5Scalar { public static var h5ElementType: H5ElementType { .uint16 } }
extension Int32: H5Scalar { public static var h5ElementType: H5ElementType { .int32 } }
extension UInt32: H5Scalar { public static var h5ElementType: H5ElementType { .uint32 } }
extension Int64: H5Scalar { public static var h5ElementType: H5ElementType { .int64 } }

/// How values of one type become stored elements of another, and back.
enum H5Conversion: Equatable {
    /// HDF5 reads/writes with the value type's native memory type (converting exactly if the types differ).
    case hdf5
    /// Float ↔ 16-bit float bits, done by this module (round to nearest even on write).
    case float16
    case bfloat16

    /// The way to store values of type `value` as elements of type `stored`, or nil if it would lose data.
    static func forWriting(_ value: H5ElementType, into stored: H5ElementType) -> H5Conversion? {
        if value == .float32 && stored == .float16 { return .float16 }
        if value == .float32 && stored == .bfloat16 { return .bfloat16 }
        if value.is16BitFloat || stored.is16BitFloat { return nil }
        return value.convertsExactly(to: stored) ? .hdf5 : nil
    }

    /// The way to read stored elements as values of type `value`, or nil if it would lose data.
    static func forReading(_ stored: H5ElementType, as value: H5ElementType) -> H5Conversion? {
        if stored == .float16 && value == .float32 { return .float16 }
        if stored == .bfloat16 && value == .float32 { return .bfloat16 }
        if value.is16BitFloat || stored.is16BitFloat { return nil }
        return stored.convertsExactly(to: value) ? .hdf5 : nil
    }
}

/// Float ↔ 16-bit float conversions of whole buffers. HDF5 1.10.8's own float → half/bfloat16
/// conversion is wrong where rounding carries into the exponent (0.99999 → 0.5, -3.993 → -2 in
/// bfloat16), so this module converts 16-bit floats itself (`HalfFloat`) and hands HDF5 the bits.
enum Float16Bits {
    /// Converts floats into stored 16-bit values.
    static func encode(_ source: UnsafeBufferPointer<Float>, into target: UnsafeMutableBufferPointer<UInt16>,
                       as conversion: H5Conversion) {
        precondition(source.count == target.count)
        if conversion == .bfloat16 {
            for i in source.indices { target[i] = HalfFloat.bfloat16(source[i]) }
        } else {
            for i in source.indices { target[i] = HalfFloat.half(source[i]) }
        }
    }

    /// Converts stored 16-bit values into floats.
    static func decode(_ source: UnsafeBufferPointer<UInt16>, into target: UnsafeMutableBufferPointer<Float>,
                       as conversion: H5Conversion) {
        precondition(source.count == target.count)
        if conversion == .bfloat16 {
            for i in source.indices { target[i] = HalfFloat.float(bfloat16: source[i]) }
        } else {
            for i in source.indices { target[i] = HalfFloat.float(half: source[i]) }
        }
    }
}
