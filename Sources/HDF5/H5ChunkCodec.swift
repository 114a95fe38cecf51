import HDF5Zstd

/// The compressor in a dataset's filter pipeline.
public enum H5Compression: Sendable, Equatable, CustomStringConvertible {
    case none
    /// Zstandard, HDF5 filter 32015 (level 3 is a good default; higher is slower).
    case zstd(level: Int)
    /// Deflate, HDF5's built-in filter 1 (zlib format), level 0...9.
    case gzip(level: Int)

    public var description: String {
        switch self {
        case .none: return "none"
        case .zstd(let level): return "zstd(level: \(level))"
        case .gzip(let level): return "gzip(level: \(level))"
        }
    }
}

/// How a new dataset is chunked and filtered. The pipeline is always, in order:
/// shuffle (filter 2) → compression (zstd 32015 or deflate 1) → Fletcher32 (filter 3).
public struct H5DatasetOptions: Sendable, Equatable {
    /// Rows per chunk; 0 chooses about `automaticChunkBytes` of uncompressed data per chunk.
    /// Chunks are read and decompressed whole.
    public var chunkRows: Int
    public var compression: H5Compression
    /// Byte shuffle before compression (groups the bytes of each significance; helps floats).
    public var shuffle: Bool
    /// A Fletcher32 checksum of each stored chunk: a damaged chunk fails to read.
    public var checksum: Bool

    public static let automaticChunkBytes = 1 << 20

    public init(chunkRows: Int = 0, compression: H5Compression = .zstd(level: 3),
                shuffle: Bool = true, checksum: Bool = true) {
        self.chunkRows = chunkRows
        self.compression = compression
        self.shuffle = shuffle
        self.checksum = checksum
    }

    /// No filters at all (chunked, so still extendible).
    public static let uncompressed = H5DatasetOptions(compression: .none, shuffle: false, checksum: false)
}

/// One chunk of a dataset as stored in the file: the bytes after the filter pipeline,
/// and how many dataset rows it holds (fewer than the chunk's rows only for the last chunk).
public struct H5EncodedChunk: Sendable {
    public let bytes: [UInt8]
    public let rows: Int
    /// The layout and pipeline the bytes were made for.
    public let codec: H5ChunkCodec
}

/// HDF5's chunk filter pipeline, run outside HDF5: encodes rows into the exact bytes
/// HDF5 would store for a chunk (for `H5Dataset.appendEncodedChunk`), and decodes
/// stored chunks (from `H5Dataset.readEncodedChunk`). Makes no HDF5 calls, so many
/// threads can compress at once while HDF5 itself runs one call at a time.
///
/// encode: rows → zero-pad to a full chunk (HDF5 filters edge chunks whole, fill value 0)
///         → shuffle → zstd frame | zlib stream → append Fletcher32 (4 bytes, little-endian)
public struct H5ChunkCodec: Sendable, Equatable, CustomStringConvertible {
    public let elementType: H5ElementType
    /// Elements per row (1 for a one-dimensional dataset).
    public let columns: Int
    /// Rows per chunk (resolved: never 0).
    public let chunkRows: Int
    public let compression: H5Compression
    public let shuffle: Bool
    public let checksum: Bool

    public var rowBytes: Int { columns * elementType.size }
    /// Uncompressed bytes of one full chunk.
    public var chunkBytes: Int { chunkRows * rowBytes }

    /// Validates the options and resolves an automatic chunk size.
    public init(elementType: H5ElementType, columns: Int, options: H5DatasetOptions) throws {
        let site = H5Site(file: "", object: "")
        let operation = "set up the chunk codec"
        guard columns >= 1 else { throw site.error(operation, "columns must be at least 1, not \(columns)") }
        guard options.chunkRows >= 0 else { throw site.error(operation, "chunkRows must not be negative") }
        let rowBytes = columns * elementType.size
        let rows = options.chunkRows > 0 ? options.chunkRows : max(1, H5DatasetOptions.automaticChunkBytes / rowBytes)
        guard rows * rowBytes < Int(UInt32.max) else {
            throw site.error(operation, "a chunk of \(rows) rows × \(rowBytes) bytes exceeds HDF5's 4 GiB chunk limit")
        }
        switch options.compression {
        case .none: break
        case .zstd(let level):
            let range = Int(distillery_zstd_min_level())...Int(distillery_zstd_max_level())
            guard range.contains(level) else { throw site.error(operation, "zstd level \(level) is outside \(range)") }
        case .gzip(let level):
            guard (0...9).contains(level) else { throw site.error(operation, "gzip level \(level) is outside 0...9") }
        }
        self.elementType = elementType
        self.columns = columns
        self.chunkRows = rows
        self.compression = options.compression
        self.shuffle = options.shuffle
        self.checksum = options.checksum
    }

    /// The options that describe this pipeline (with the chunk rows resolved).
    public var options: H5DatasetOptions {
        H5DatasetOptions(chunkRows: chunkRows, compression: compression, shuffle: shuffle, checksum: checksum)
    }

    public var description: String {
        "\(chunkRows) rows × \(columns) \(elementType), shuffle: \(shuffle), \(compression), checksum: \(checksum)"
    }

    // MARK: Encoding

    /// Encodes whole rows of stored elements (little-endian bytes, row-major), at most
    /// `chunkRows` rows; fewer only for the last chunk of a dataset.
    public func encode(_ raw: UnsafeRawBufferPointer) throws -> H5EncodedChunk {
        let operation = "encode a chunk"
        guard raw.count > 0, raw.count % rowBytes == 0, raw.count <= chunkBytes else {
            throw H5Site(file: "", object: "").error(operation,
                "\(raw.count) bytes is not 1...\(chunkRows) whole rows of \(rowBytes) bytes")
        }
        // The chunk as HDF5 filters it: full size, rows beyond the data are fill value 0. A full
        // chunk is filtered straight from `raw`, and the stored bytes are made at once at their
        // largest size, with room for the checksum (each copy of a 1 MiB chunk costs).
        var scratch: [UnsafeMutableRawBufferPointer] = []
        defer { scratch.forEach { $0.deallocate() } }
        func chunkBuffer() -> UnsafeMutableRawBufferPointer {
            scratch.append(.allocate(byteCount: chunkBytes, alignment: 64))
            return scratch.last!
        }
        var input = raw
        if raw.count < chunkBytes {
            let padded = chunkBuffer()
            padded.copyMemory(from: raw)
            (padded.baseAddress! + raw.count).initializeMemory(as: UInt8.self, repeating: 0, count: chunkBytes - raw.count)
            input = UnsafeRawBufferPointer(padded)
        }
        if shuffle && elementType.size > 1 {
            let shuffled = chunkBuffer()
            distillery_shuffle(shuffled.baseAddress, input.baseAddress, chunkBytes, elementType.size)
            input = UnsafeRawBufferPointer(shuffled)
        }
        let capacity: Int
        switch compression {
        case .none: capacity = chunkBytes
        case .zstd: capacity = distillery_zstd_bound(chunkBytes)
        case .gzip: capacity = distillery_deflate_bound(chunkBytes)
        }
        let data = [UInt8](unsafeUninitializedCapacity: capacity + 4) { out, count in
            let stored: Int  // 0: the compressor failed
            switch compression {
            case .none:
                UnsafeMutableRawBufferPointer(out).copyMemory(from: input)
                stored = chunkBytes
            case .zstd(let level):
                stored = distillery_zstd_compress(out.baseAddress, capacity, input.baseAddress, chunkBytes, Int32(level))
            case .gzip(let level):
                stored = distillery_deflate(out.baseAddress, capacity, input.baseAddress, chunkBytes, Int32(level))
            }
            count = stored
            guard stored > 0, checksum else { return }
            let sum = distillery_fletcher32(out.baseAddress, stored)
            for byte in 0..<4 { out[stored + byte] = UInt8(truncatingIfNeeded: sum >> (8 * byte)) }  // little-endian
            count = stored + 4
        }
        guard !data.isEmpty else { throw H5Site(file: "", object: "").error(operation, "\(compression) failed") }
        return H5EncodedChunk(bytes: data, rows: raw.count / rowBytes, codec: self)
    }

    /// Encodes values: of the stored type itself, or Floats for a float16 / bfloat16
    /// dataset (rounded to nearest even). `values.count` must be whole rows.
    public func encode<T: H5Scalar>(_ values: UnsafeBufferPointer<T>) throws -> H5EncodedChunk {
        let conversion = H5Conversion.forWriting(T.h5ElementType, into: elementType)
        switch conversion {
        case .float16?, .bfloat16?:
            let floats = UnsafeBufferPointer<Float>(start: UnsafeRawPointer(values.baseAddress)?
                .assumingMemoryBound(to: Float.self), count: values.count)
            let bits = [UInt16](unsafeUninitializedCapacity: values.count) { buffer, count in
                Float16Bits.encode(floats, into: buffer, as: conversion!)
                count = values.count
            }
            return try bits.withUnsafeBytes { try encode($0) }
        case .hdf5? where T.h5ElementType == elementType:
            return try encode(UnsafeRawBufferPointer(values))
        default:
            throw H5Site(file: "", object: "").error("encode a chunk",
                "\(T.self) values cannot be encoded as \(elementType) (give stored-type values or bytes)")
        }
    }

    /// Runs a C filter from `input` into a new buffer of `count` bytes; the filter
    /// returns the bytes it wrote (0 = failure, giving an empty result).
    private static func transform(_ input: [UInt8], count: Int,
                                  _ filter: (UnsafeMutableRawBufferPointer, UnsafeRawBufferPointer) -> Int) -> [UInt8] {
        input.withUnsafeBytes { source in
            [UInt8](unsafeUninitializedCapacity: max(count, 1)) { buffer, written in
                written = filter(UnsafeMutableRawBufferPointer(buffer), source)
            }
        }
    }

    // MARK: Decoding

    /// Decodes a stored chunk back into its rows of stored elements (little-endian bytes):
    /// checks the Fletcher32 checksum, decompresses, unshuffles, drops the padding rows.
    public func decode(_ chunk: H5EncodedChunk) throws -> [UInt8] {
        let site = H5Site(file: "", object: "")
        let operation = "decode a chunk"
        guard chunk.codec == self else {
            throw site.error(operation, "the chunk was made for another layout (\(chunk.codec)), not \(self)")
        }
        var data = chunk.bytes
        if checksum {
            guard data.count >= 4 else { throw site.error(operation, "chunk of \(data.count) bytes has no checksum") }
            let n = data.count - 4
            let stored = UInt32(data[n]) | UInt32(data[n + 1]) << 8 | UInt32(data[n + 2]) << 16 | UInt32(data[n + 3]) << 24
            let computed = data.withUnsafeBytes { distillery_fletcher32($0.baseAddress, n) }
            guard stored == computed else {
                throw site.error(operation, "Fletcher32 checksum mismatch (stored \(stored), computed \(computed))")
            }
            data.removeLast(4)
        }
        let expected = chunkBytes
        switch compression {
        case .none: break
        case .zstd:
            data = Self.transform(data, count: expected) { out, input in
                let n = distillery_zstd_decompress(out.baseAddress, out.count, input.baseAddress, input.count)
                return n < 0 ? 0 : n  // (size_t)-1 marks an error
            }
        case .gzip:
            data = Self.transform(data, count: expected) { out, input in
                let n = distillery_inflate(out.baseAddress, out.count, input.baseAddress, input.count)
                return n < 0 ? 0 : n  // (size_t)-1 marks an error
            }
        }
        guard data.count == expected else {
            throw site.error(operation, "decoded \(data.count) bytes, expected a \(expected)-byte chunk (\(compression))")
        }
        if shuffle && elementType.size > 1 {
            data = Self.transform(data, count: expected) { out, input in
                distillery_unshuffle(out.baseAddress, input.baseAddress, input.count, elementType.size)
                return input.count
            }
        }
        data.removeLast(expected - chunk.rows * rowBytes)
        return data
    }

    /// Decodes a stored chunk into values: of the stored type itself, or Floats from a
    /// float16 / bfloat16 dataset (exact). The inverse of `encode(_ values:)`.
    public func decode<T: H5Scalar>(_ chunk: H5EncodedChunk, as type: T.Type) throws -> [T] {
        let bytes = try decode(chunk)
        let count = chunk.rows * columns
        let conversion = H5Conversion.forReading(elementType, as: T.h5ElementType)
        switch conversion {
        case .float16?, .bfloat16?:  // T is Float
            return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                let floats = UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: Float.self)
                bytes.withUnsafeBytes { raw in
                    Float16Bits.decode(raw.bindMemory(to: UInt16.self), into: UnsafeMutableBufferPointer(start: floats, count: count),
                                       as: conversion!)
                }
                initialized = count
            }
        case .hdf5? where T.h5ElementType == elementType:
            return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
                initialized = count
            }
        default:
            throw H5Site(file: "", object: "").error("decode a chunk",
                "\(elementType) cannot be decoded as \(T.self) (ask for the stored type, or Float for 16-bit floats)")
        }
    }
}
