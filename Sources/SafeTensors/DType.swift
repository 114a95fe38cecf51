/// The element types this module reads. Other safetensors dtypes (U16, U32, U64, FP8, ...)
/// are rejected when a header is parsed, so every tensor we hand out has a known width.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16: return true
        default: return false
        }
    }

    /// Position in the reference writer's data order (largest first, ties by name): the Rust
    /// crate sorts by its `Dtype` enum, descending. Copying it keeps every tensor aligned to its
    /// element size and makes our files byte-identical to `safetensors.save_file`.
    var writeRank: Int {
        switch self {
        case .i64: return 9
        case .f64: return 8
        case .f32: return 7
        case .i32: return 6
        case .bf16: return 5
        case .f16: return 4
        case .i16: return 3
        case .i8: return 2
        case .u8: return 1
        case .bool: return 0
        }
    }
}
