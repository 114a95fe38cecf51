import HDF5

/// Appends rows to one dataset as whole chunks encoded outside HDF5 (H5ChunkCodec) and written
/// with H5Dwrite_chunk. A commit writes the unfinished last chunk too; once it fills up it is
/// written again in place, so a commit never leaves rows only in memory.
final class RowStream {
    let dataset: H5Dataset
    let codec: H5ChunkCodec
    /// First row of the chunk being filled.
    private var chunkStart: Int
    private var pending: [UInt8]
    private var pendingRows = 0
    /// Rows accepted so far (on disk or pending).
    var rows: Int { chunkStart + pendingRows }

    /// Opens a stream at the end of `dataset`, reloading its unfinished last chunk (after a resume).
    init(_ dataset: H5Dataset) throws {
        self.dataset = dataset
        codec = try dataset.chunkCodec()
        pending = []
        pending.reserveCapacity(codec.chunkBytes)
        let tail = dataset.rows % codec.chunkRows
        chunkStart = dataset.rows - tail
        if tail > 0 {
            let stored = try codec.decode(dataset.readEncodedChunk(chunkStart / codec.chunkRows))
            pending.append(contentsOf: stored[0..<(tail * codec.rowBytes)])
            pendingRows = tail
        }
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
            if pending.count == codec.chunkBytes { try writePending(); chunkStart += codec.chunkRows; pending.removeAll(keepingCapacity: true); pendingRows = 0 }
        }
    }

    func append<T>(_ values: [T]) throws {
        try values.withUnsafeBytes { try append($0) }
    }

    /// Makes every accepted row durable in the file (up to HDF5's own flush).
    func commit() throws {
        if pendingRows > 0 { try writePending() }
        try dataset.setAttribute(CacheLayout.committedRowsAttribute, Int64(rows))
    }

    private func writePending() throws {
        let chunk = try pending.withUnsafeBytes { try codec.encode($0) }
        try dataset.writeEncodedChunk(chunk, atRow: chunkStart)
    }
}
