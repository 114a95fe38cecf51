import HDF5

/// Appends rows to one dataset as whole chunks encoded outside HDF5 (H5ChunkCodec) and written
/// once each with H5Dwrite_chunk. Chunks that fill up wait in `ready` until the owner encodes them
/// (on any threads, many streams' chunks at once) and hands them to `write(_:)` in order.
///
/// Crash safety: committed bytes are never overwritten in place. A commit stores the unfinished
/// last chunk's rows in a new tail dataset (under `CacheLayout.commitGroup`) instead of writing
/// them into the chunk that later fills up, so a process killed after a commit leaves the
/// committed state intact: full chunks up to the tail, and the tail beside them. The last chunk
/// goes into the dataset itself only when the file is finished.
final class RowStream {
    let dataset: H5Dataset
    let codec: H5ChunkCodec
    /// First row of the chunks not yet written; the dataset holds exactly the rows before it.
    private var chunkStart: Int
    /// Full chunks accepted and not yet written (raw rows, `codec.chunkBytes` each).
    private(set) var ready: [[UInt8]] = []
    private var pending: [UInt8]
    private var pendingRows = 0
    /// Rows accepted so far (written, ready or pending).
    var rows: Int { chunkStart + ready.count * codec.chunkRows + pendingRows }

    /// A stream at the end of a new `dataset`, or, when resuming, at its last commit: the
    /// `committedRows` rows are the full chunks in the dataset plus `tail` (raw rows of the
    /// unfinished chunk); anything written after the commit is cut off.
    init(_ dataset: H5Dataset, committedRows: Int? = nil, tail: [UInt8] = []) throws {
        self.dataset = dataset
        codec = try dataset.chunkCodec()
        let rows = committedRows ?? dataset.rows
        let tailRows = tail.count / codec.rowBytes
        chunkStart = rows - tailRows
        guard tail.count % codec.rowBytes == 0, tailRows < codec.chunkRows, chunkStart % codec.chunkRows == 0,
              chunkStart >= 0, chunkStart <= dataset.rows else {
            throw CacheError.corrupt("\(dataset.file.url.path): \(dataset.path): the last commit (\(rows) rows, \(tail.count) tail bytes) does not match the \(dataset.rows) rows in the file")
        }
        if chunkStart < dataset.rows { try dataset.truncate(toRows: chunkStart) }
        pending = tail
        pending.reserveCapacity(codec.chunkBytes)
        pendingRows = tail.count / codec.rowBytes
    }

    /// Appends whole rows given as the stored type's little-endian bytes.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(bytes.count % codec.rowBytes == 0, "\(dataset.path): \(bytes.count) bytes are not whole rows of \(codec.rowBytes)")
        var offset = 0
        while offset < bytes.count {
            let take = min(bytes.count - offset, codec.chunkBytes - pending.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            pendingRows = pending.count / codec.rowBytes
            offset += take
            if pending.count == codec.chunkBytes {
                ready.append(pending)
                pending.removeAll(keepingCapacity: true)
                pendingRows = 0
            }
        }
    }

    func append<T>(_ values: [T]) throws {
        try values.withUnsafeBytes { try append($0) }
    }

    /// Writes the `ready` chunks, encoded by `codec` in the same order.
    func write(_ encoded: [H5EncodedChunk]) throws {
        precondition(encoded.count == ready.count, "\(dataset.path): \(encoded.count) encoded chunks for \(ready.count) ready")
        for chunk in encoded {
            try dataset.appendEncodedChunk(chunk)
            chunkStart += codec.chunkRows
        }
        ready.removeAll()
    }

    /// The last accepted value of a one-dimensional int64 stream (an offsets array).
    func lastInt64() throws -> Int64 {
        precondition(codec.elementType == .int64 && codec.columns == 1 && rows > 0, "\(dataset.path) is not a non-empty offsets stream")
        precondition(ready.isEmpty, "\(dataset.path): ready chunks are not written yet")
        if pendingRows > 0 { return pending.withUnsafeBytes { $0.load(fromByteOffset: pending.count - 8, as: Int64.self) } }
        return try dataset.read(Int64.self, rows: (rows - 1)..<rows)[0]
    }

    /// The unfinished chunk's rows, for a commit's tail dataset (after the ready chunks are written).
    var tail: [UInt8] {
        precondition(ready.isEmpty, "\(dataset.path): ready chunks are not written yet")
        return pending
    }

    /// Writes the unfinished last chunk into the dataset: only when no more rows will come.
    func finish() throws {
        precondition(ready.isEmpty, "\(dataset.path): ready chunks are not written yet")
        if pendingRows > 0 { try dataset.appendEncodedChunk(try pending.withUnsafeBytes { try codec.encode($0) }) }
    }
}
