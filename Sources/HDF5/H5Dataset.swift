import CHDF5
import HDF5Zstd

/// One filter of a dataset's pipeline, as stored in the file.
public struct H5FilterInfo: Sendable, Equatable, CustomStringConvertible {
    /// HDF5 filter id: 1 deflate, 2 shuffle, 3 Fletcher32, 32015 zstd, ...
    public let id: Int
    public let name: String
    /// The filter's client data values (cd_values): deflate/zstd level, shuffle element size.
    public let parameters: [UInt32]

    public var description: String {
        "\(name) (\(id))" + (parameters.isEmpty ? "" : " " + parameters.map(String.init).joined(separator: ","))
    }
}

/// Where a stored chunk lies in the file.
public struct H5ChunkLocation: Sendable, Equatable {
    /// Byte offset of the chunk in the file.
    public let fileOffset: Int
    /// Stored (filtered) size in bytes.
    public let storedBytes: Int
}

/// A dataset of rows: shape (rows, columns), or (rows) when one-dimensional, stored
/// row-major. Datasets made by `H5Group.createDataset` grow by appending rows; chunk
/// `i` holds rows `i * chunkRows ..< (i + 1) * chunkRows`.
public final class H5Dataset: H5Object {
    static let zstdFilterID = Int(DISTILLERY_ZSTD_FILTER_ID)

    public let elementType: H5ElementType
    /// 1 or 2.
    public let rank: Int
    /// Elements per row (1 for a one-dimensional dataset).
    public let columns: Int
    /// Rows stored (kept up to date by this object's appends).
    public private(set) var rows: Int
    /// Rows per chunk; nil when the dataset is not chunked.
    public let chunkRows: Int?
    /// The filter pipeline, in the order filters run when writing.
    public let filters: [H5FilterInfo]
    private let codec: Result<H5ChunkCodec, H5Error>

    /// Reads the dataset's type, shape, chunking and filters; closes `id` if that fails.
    init(file: H5File, path: String, id: hid_t, _ site: H5Site) throws {
        let site = H5Site(file: site.file, object: path)
        let operation = "open dataset"
        do {
            let type = try site.check(H5Dget_type(id), operation)
            defer { H5Tclose(type) }
            guard let element = H5ElementType(datatype: type) else {
                throw site.error(operation, "unsupported element type (HDF5 class \(H5Tget_class(type).rawValue), \(H5Tget_size(type)) bytes)")
            }
            let littleEndian = element.size == 1 || H5Tget_order(type) == H5T_ORDER_LE

            let space = try site.check(H5Dget_space(id), operation)
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            guard rank == 1 || rank == 2 else { throw site.error(operation, "rank \(rank) is not supported (1 or 2)") }
            var dims = [hsize_t](repeating: 0, count: rank)
            try site.check(H5Sget_simple_extent_dims(space, &dims, nil), operation)

            let create = try site.check(H5Dget_create_plist(id), operation)
            defer { H5Pclose(create) }
            var chunkDims = [hsize_t](repeating: 0, count: rank)
            let chunked = H5Pget_layout(create) == H5D_CHUNKED
            if chunked { try site.check(H5Pget_chunk(create, Int32(rank), &chunkDims), operation) }
            let filters = try Self.filters(of: create, site, operation)

            self.elementType = element
            self.rank = rank
            self.columns = rank == 2 ? Int(dims[1]) : 1
            self.rows = Int(dims[0])
            self.chunkRows = chunked ? Int(chunkDims[0]) : nil
            self.filters = filters
            self.codec = Self.codec(element: element, columns: rank == 2 ? Int(dims[1]) : 1, chunkDims: chunked ? chunkDims : nil,
                                    littleEndian: littleEndian, filters: filters, site)
        } catch {
            H5Dclose(id)
            throw error
        }
        super.init(file: file, path: path, id: id)
    }

    // MARK: Appending and reading rows

    public func append<T: H5Scalar>(_ values: [T]) throws {
        try values.withUnsafeBufferPointer { try append($0) }
    }

    /// Appends whole rows (`values.count` a multiple of `columns`). Values convert to the
    /// stored type only without loss, or Float → float16/bfloat16 (rounded to nearest even).
    public func append<T: H5Scalar>(_ values: UnsafeBufferPointer<T>) throws {
        let newRows = values.count / columns
        let operation = "append \(newRows) rows"
        let site = try enter(operation)
        guard values.count % columns == 0 else {
            throw site.error(operation, "\(values.count) values are not whole rows of \(columns)")
        }
        guard let conversion = H5Conversion.forWriting(T.h5ElementType, into: elementType) else {
            throw site.error(operation, "\(T.self) values cannot be stored as \(elementType) without loss")
        }
        guard newRows > 0 else { return }
        switch conversion {
        case .hdf5:
            try writeRows(newRows, site, operation) { memory, fileSpace in
                try T.h5ElementType.withDatatype(stored: false, site) { type in
                    H5Dwrite(id, type, memory, fileSpace, h5Default, values.baseAddress)
                }
            }
        case .float16, .bfloat16:
            let floats = UnsafeRawPointer(values.baseAddress!).assumingMemoryBound(to: Float.self)
            let bits = [UInt16](unsafeUninitializedCapacity: values.count) { buffer, count in
                Float16Bits.encode(UnsafeBufferPointer(start: floats, count: values.count), into: buffer, as: conversion)
                count = values.count
            }
            try writeRows(newRows, site, operation) { memory, fileSpace in
                try elementType.withDatatype(stored: true, site) { type in
                    H5Dwrite(id, type, memory, fileSpace, h5Default, bits)
                }
            }
        }
    }

    /// Reads rows as T (`T` the stored type, a type holding every stored value exactly,
    /// or Float from float16/bfloat16).
    public func read<T: H5Scalar>(_ type: T.Type = T.self, rows range: Range<Int>) throws -> [T] {
        try [T](unsafeUninitializedCapacity: range.count * columns) { buffer, count in
            try read(rows: range, into: buffer)
            count = buffer.count
        }
    }

    /// Reads rows into a buffer of exactly `range.count * columns` elements.
    public func read<T: H5Scalar>(rows range: Range<Int>, into buffer: UnsafeMutableBufferPointer<T>) throws {
        let operation = "read rows \(range)"
        let site = try enter(operation)
        guard range.lowerBound >= 0, range.upperBound <= rows else {
            throw site.error(operation, "rows \(range) are outside the dataset's 0..<\(rows)")
        }
        guard buffer.count == range.count * columns else {
            throw site.error(operation, "the buffer holds \(buffer.count) values, not \(range.count) × \(columns)")
        }
        guard let conversion = H5Conversion.forReading(elementType, as: T.h5ElementType) else {
            throw site.error(operation, "\(elementType) values cannot be read as \(T.self) without loss")
        }
        guard !range.isEmpty else { return }
        switch conversion {
        case .hdf5:
            try readRows(range, site, operation) { memory, fileSpace in
                try T.h5ElementType.withDatatype(stored: false, site) { type in
                    H5Dread(id, type, memory, fileSpace, h5Default, buffer.baseAddress)
                }
            }
        case .float16, .bfloat16:
            // H5Dread writes every value or fails, so the bits need no zeroing first (a pass over
            // fresh pages on the cache reader's thread, beside the trainer's).
            let bits = try [UInt16](unsafeUninitializedCapacity: buffer.count) { bits, count in
                try readRows(range, site, operation) { memory, fileSpace in
                    try elementType.withDatatype(stored: true, site) { type in
                        H5Dread(id, type, memory, fileSpace, h5Default, bits.baseAddress)
                    }
                }
                count = bits.count
            }
            let floats = UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: Float.self)
            bits.withUnsafeBufferPointer {
                Float16Bits.decode($0, into: UnsafeMutableBufferPointer(start: floats, count: buffer.count), as: conversion)
            }
        }
    }

    /// Grows the dataset by `newRows` and writes them (shrinking back if the write fails).
    private func writeRows(_ newRows: Int, _ site: H5Site, _ operation: String,
                           _ write: (_ memory: hid_t, _ fileSpace: hid_t) throws -> herr_t) throws {
        guard file.isWritable else { throw site.error(operation, "the file is open read-only") }
        let start = rows
        try resize(to: start + newRows, site, operation)
        do {
            try withSelection(start..<(start + newRows), site, operation) { memory, fileSpace in
                try site.check(write(memory, fileSpace), operation)
            }
        } catch {
            _ = try? resize(to: start, site, operation)
            throw error
        }
    }

    private func readRows(_ range: Range<Int>, _ site: H5Site, _ operation: String,
                          _ read: (_ memory: hid_t, _ fileSpace: hid_t) throws -> herr_t) throws {
        try withSelection(range, site, operation) { memory, fileSpace in
            try site.check(read(memory, fileSpace), operation)
        }
    }

    /// A file dataspace selecting `range`'s rows, and a memory dataspace of the same shape.
    private func withSelection(_ range: Range<Int>, _ site: H5Site, _ operation: String,
                               _ body: (_ memory: hid_t, _ fileSpace: hid_t) throws -> Void) throws {
        let fileSpace = try site.check(H5Dget_space(id), operation)
        defer { H5Sclose(fileSpace) }
        var start = origin(row: range.lowerBound)
        var count = shape(rows: range.count)
        try site.check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil), operation)
        // The memory space has the selection's shape: with another shape (say flat) HDF5
        // maps elements to chunks one at a time, about 20 times slower.
        let memory = try site.check(H5Screate_simple(Int32(rank), &count, nil), operation)
        defer { H5Sclose(memory) }
        try body(memory, fileSpace)
    }

    private func resize(to newRows: Int, _ site: H5Site, _ operation: String) throws {
        var dims = shape(rows: newRows)
        try site.check(H5Dset_extent(id, &dims), operation)
        rows = newRows
    }

    /// (rows, columns) or (rows).
    private func shape(rows: Int) -> [hsize_t] {
        rank == 2 ? [hsize_t(rows), hsize_t(columns)] : [hsize_t(rows)]
    }

    /// The coordinates of a row's first element: (row, 0) or (row).
    private func origin(row: Int) -> [hsize_t] {
        rank == 2 ? [hsize_t(row), 0] : [hsize_t(row)]
    }

    // MARK: Whole encoded chunks (the parallel fast path)

    /// The codec for this dataset's chunks. Throws for datasets whose chunks are not
    /// whole-row blocks with a shuffle → zstd|deflate → Fletcher32 pipeline in little-endian.
    public func chunkCodec() throws -> H5ChunkCodec {
        try codec.get()
    }

    /// Bytes the dataset occupies in the file (after filters), for compression reports.
    public var storageBytes: Int { Int(H5Dget_storage_size(id)) }

    /// Number of chunks holding the current rows.
    public var chunkCount: Int {
        guard let chunkRows else { return 0 }
        return (rows + chunkRows - 1) / chunkRows
    }

    /// Appends a chunk encoded by `chunkCodec()` (H5Dwrite_chunk): the dataset must end at
    /// a chunk boundary, so every chunk but the last must be full.
    public func appendEncodedChunk(_ chunk: H5EncodedChunk) throws {
        if let chunkRows, rows % chunkRows != 0 {
            let operation = "append an encoded chunk of \(chunk.rows) rows at row \(rows)"
            throw try enter(operation).error(operation, "the dataset's \(rows) rows end inside a chunk of \(chunkRows) rows")
        }
        try writeEncodedChunk(chunk, atRow: rows)
    }

    /// Writes a chunk encoded by `chunkCodec()` at the chunk starting at row `start`, replacing
    /// the partial last chunk when `start` is its first row (a writer that commits partial chunks
    /// rewrites them once they fill up). The dataset then ends at `start + chunk.rows`; rows are
    /// never dropped this way.
    public func writeEncodedChunk(_ chunk: H5EncodedChunk, atRow start: Int) throws {
        let operation = "write an encoded chunk of \(chunk.rows) rows at row \(start)"
        let site = try enter(operation)
        let codec = try chunkCodec()
        guard chunk.codec == codec else {
            throw site.error(operation, "the chunk was encoded for \(chunk.codec), the dataset is \(codec)")
        }
        guard start % codec.chunkRows == 0 else {
            throw site.error(operation, "row \(start) is not the first row of a chunk of \(codec.chunkRows) rows")
        }
        guard start <= rows, start + codec.chunkRows > rows, start + chunk.rows >= rows else {
            throw site.error(operation, "the dataset's \(rows) rows do not end inside or at the chunk starting at row \(start)")
        }
        guard file.isWritable else { throw site.error(operation, "the file is open read-only") }
        let previous = rows
        try resize(to: start + chunk.rows, site, operation)
        var offset = origin(row: start)
        let status = chunk.bytes.withUnsafeBytes {
            H5Dwrite_chunk(id, h5Default, 0, &offset, $0.count, $0.baseAddress)
        }
        if status < 0 {
            let error = site.hdf5Error(operation)
            _ = try? resize(to: previous, site, operation)
            throw error
        }
    }

    /// Shrinks the dataset to its first `newRows` rows (rows past them are dropped), e.g. to
    /// roll an interrupted writer back to its last commit.
    public func truncate(toRows newRows: Int) throws {
        let operation = "truncate to \(newRows) rows"
        let site = try enter(operation)
        guard (0...rows).contains(newRows) else { throw site.error(operation, "the dataset has only \(rows) rows") }
        guard file.isWritable else { throw site.error(operation, "the file is open read-only") }
        try resize(to: newRows, site, operation)
    }

    /// Reads chunk `index` as stored (H5Dread_chunk), for `H5ChunkCodec.decode` or verification.
    public func readEncodedChunk(_ index: Int) throws -> H5EncodedChunk {
        let operation = "read encoded chunk \(index)"
        let site = try enter(operation)
        let codec = try chunkCodec()
        guard (0..<chunkCount).contains(index) else {
            throw site.error(operation, "chunk \(index) is outside 0..<\(chunkCount)")
        }
        var offset = chunkOffset(index, codec)
        var size: hsize_t = 0
        try site.check(H5Dget_chunk_storage_size(id, &offset, &size), operation)
        var filterMask: UInt32 = 0
        var bytes = [UInt8](repeating: 0, count: Int(size))
        try site.check(H5Dread_chunk(id, h5Default, &offset, &filterMask, &bytes), operation)
        guard filterMask == 0 else {
            throw site.error(operation, "HDF5 skipped filters for this chunk (mask \(filterMask)); the codec cannot decode it")
        }
        let first = index * codec.chunkRows
        return H5EncodedChunk(bytes: bytes, rows: min(codec.chunkRows, rows - first), codec: codec)
    }

    /// Where chunk `index` is stored in the file.
    public func chunkLocation(_ index: Int) throws -> H5ChunkLocation {
        let operation = "locate chunk \(index)"
        let site = try enter(operation)
        let codec = try chunkCodec()
        guard (0..<chunkCount).contains(index) else {
            throw site.error(operation, "chunk \(index) is outside 0..<\(chunkCount)")
        }
        var offset = chunkOffset(index, codec)
        var filterMask: UInt32 = 0
        var address: haddr_t = 0
        var size: hsize_t = 0
        try site.check(H5Dget_chunk_info_by_coord(id, &offset, &filterMask, &address, &size), operation)
        return H5ChunkLocation(fileOffset: Int(address), storedBytes: Int(size))
    }

    private func chunkOffset(_ index: Int, _ codec: H5ChunkCodec) -> [hsize_t] {
        origin(row: index * codec.chunkRows)
    }

    // MARK: Reading the creation properties

    private static func filters(of create: hid_t, _ site: H5Site, _ operation: String) throws -> [H5FilterInfo] {
        let count = H5Pget_nfilters(create)
        if count < 0 { throw site.hdf5Error(operation) }
        return try (0..<UInt32(count)).map { index in
            var flags: UInt32 = 0
            var valueCount = 16
            var values = [UInt32](repeating: 0, count: valueCount)
            var name = [CChar](repeating: 0, count: 256)
            var config: UInt32 = 0
            let id = H5Pget_filter2(create, index, &flags, &valueCount, &values, name.count, &name, &config)
            if id < 0 { throw site.hdf5Error(operation) }
            let text = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return H5FilterInfo(id: Int(id), name: text, parameters: Array(values.prefix(min(valueCount, 16))))
        }
    }

    /// The codec for a dataset, when its layout and pipeline are ones H5ChunkCodec runs.
    private static func codec(element: H5ElementType, columns: Int, chunkDims: [hsize_t]?, littleEndian: Bool,
                              filters: [H5FilterInfo], _ site: H5Site) -> Result<H5ChunkCodec, H5Error> {
        let operation = "use the chunk codec"
        guard let chunkDims else { return .failure(site.error(operation, "the dataset is not chunked")) }
        guard chunkDims.count == 1 || Int(chunkDims[1]) == columns else {
            return .failure(site.error(operation, "chunks of \(chunkDims[1]) columns do not span the \(columns) columns"))
        }
        guard littleEndian else { return .failure(site.error(operation, "the dataset is stored big-endian")) }
        var rest = filters[...]
        var options = H5DatasetOptions(chunkRows: Int(chunkDims[0]), compression: .none, shuffle: false, checksum: false)
        if rest.first?.id == 2 { options.shuffle = true; rest = rest.dropFirst() }
        if let filter = rest.first, filter.id == 1 {
            options.compression = .gzip(level: Int(filter.parameters.first ?? 6))
            rest = rest.dropFirst()
        } else if let filter = rest.first, filter.id == zstdFilterID {
            options.compression = .zstd(level: Int(Int32(bitPattern: filter.parameters.first ?? 3)))
            rest = rest.dropFirst()
        }
        if rest.first?.id == 3 { options.checksum = true; rest = rest.dropFirst() }
        guard rest.isEmpty else {
            return .failure(site.error(operation, "the filter pipeline \(filters) is not shuffle → zstd|deflate → fletcher32"))
        }
        do {
            return .success(try H5ChunkCodec(elementType: element, columns: columns, options: options))
        } catch let error as H5Error {
            return .failure(site.error(operation, error.reason))
        } catch {
            return .failure(site.error(operation, "\(error)"))
        }
    }

    /// Uncompressed bytes of one chunk of an open dataset (0 when not chunked).
    static func chunkBytes(of dataset: hid_t) -> Int {
        let create = H5Dget_create_plist(dataset)
        guard create >= 0 else { return 0 }
        defer { H5Pclose(create) }
        guard H5Pget_layout(create) == H5D_CHUNKED else { return 0 }
        var dims = [hsize_t](repeating: 0, count: 32)
        let rank = H5Pget_chunk(create, 32, &dims)
        guard rank > 0 else { return 0 }
        let type = H5Dget_type(dataset)
        guard type >= 0 else { return 0 }
        defer { H5Tclose(type) }
        return dims.prefix(Int(rank)).reduce(H5Tget_size(type)) { $0 * Int($1) }
    }

    /// A chunk cache of at least four chunks (1 MiB minimum, HDF5's default), preferring
    /// to evict fully read or written chunks (w0 = 1): appends and row-range reads then
    /// compress and decompress each chunk once.
    static func accessProperties(chunkBytes: Int, _ site: H5Site, _ operation: String) throws -> hid_t {
        let access = try site.check(H5Pcreate(dh5_p_dataset_access()), operation)
        if H5Pset_chunk_cache(access, 521, max(1 << 20, 4 * chunkBytes), 1.0) < 0 {
            H5Pclose(access)
            throw site.hdf5Error(operation)
        }
        return access
    }
}
