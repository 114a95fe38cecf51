import CHDF5
import Foundation

/// An open HDF5 file. Groups and datasets taken from it keep it alive; `close()`
/// closes them all at once (HDF5's "strong" close), flushing pending chunks.
///
/// HDF5 here is one library-wide lock: calls from several threads are safe but run
/// one at a time. Compress in parallel with `H5ChunkCodec` instead.
public final class H5File {
    public let url: URL
    public let isWritable: Bool
    let id: hid_t
    public private(set) var isOpen = true

    private init(url: URL, id: hid_t, writable: Bool) {
        self.url = url
        self.id = id
        self.isWritable = writable
    }

    deinit {
        guard isOpen else { return }
        H5Library.quiet()  // deinit may run on any thread
        H5Fclose(id)
    }

    var site: H5Site { H5Site(file: url.path, object: "/") }

    /// Creates a file (in HDF5 1.10 format). Without `overwrite`, an existing file is an error.
    public static func create(_ url: URL, overwrite: Bool = false) throws -> H5File {
        let site = H5Site(file: url.path, object: "/")
        let operation = overwrite ? "create" : "create (the file must not exist)"
        try H5Library.enter(site, operation)
        let access = try accessProperties(site, operation)
        defer { H5Pclose(access) }
        let flags = overwrite ? dh5_f_acc_trunc() : dh5_f_acc_excl()
        let id = try site.check(H5Fcreate(url.path, flags, h5Default, access), operation)
        return H5File(url: url, id: id, writable: true)
    }

    /// Opens an existing file, read-only unless `writable`. A 1.10-format file that a crashed
    /// writer left open keeps a "file in use" flag that makes a later writable open fail;
    /// `recoveringFromCrash` clears it first (what `h5clear -s` does) — only for a file that
    /// no live process is writing (callers hold their own lock).
    public static func open(_ url: URL, writable: Bool = false, recoveringFromCrash: Bool = false) throws -> H5File {
        let site = H5Site(file: url.path, object: "/")
        let operation = writable ? "open for writing" : "open"
        try H5Library.enter(site, operation)
        let access = try accessProperties(site, operation)
        defer { H5Pclose(access) }
        if recoveringFromCrash {
            var clear: hbool_t = true
            try site.check(H5Pset(access, "clear_status_flags", &clear), operation + " (clearing the crash flag)")
        }
        let id = try site.check(H5Fopen(url.path, writable ? dh5_f_acc_rdwr() : dh5_f_acc_rdonly(), access), operation)
        return H5File(url: url, id: id, writable: writable)
    }

    /// Strong close (closing the file closes its objects) and the 1.10 file format:
    /// extensible-array chunk indexes for appended datasets, large attributes.
    private static func accessProperties(_ site: H5Site, _ operation: String) throws -> hid_t {
        let access = try site.check(H5Pcreate(dh5_p_file_access()), operation)
        do {
            try site.check(H5Pset_fclose_degree(access, H5F_CLOSE_STRONG), operation)
            try site.check(H5Pset_libver_bounds(access, H5F_LIBVER_V110, H5F_LIBVER_V110), operation)
        } catch {
            H5Pclose(access)
            throw error
        }
        return access
    }

    /// The root group "/".
    public var root: H5Group {
        get throws {
            let site = try enter("open the root group")
            let group = try site.check(H5Gopen2(id, "/", h5Default), "open the root group")
            return H5Group(file: self, path: "/", id: group)
        }
    }

    /// Writes everything pending (chunk caches, metadata) to disk.
    public func flush() throws {
        let site = try enter("flush")
        try site.check(H5Fflush(id, H5F_SCOPE_GLOBAL), "flush")
    }

    /// Flushes and closes the file and every group and dataset of it. Closing twice is fine.
    /// Errors here are real (pending chunks are compressed and written now).
    public func close() throws {
        guard isOpen else { return }
        try H5Library.enter(site, "close")
        isOpen = false
        try site.check(H5Fclose(id), "close")
    }

    /// Checks the file is open and prepares HDF5 for a call.
    func enter(_ operation: String, object: String = "/") throws -> H5Site {
        let site = H5Site(file: url.path, object: object)
        guard isOpen else { throw site.error(operation, "the file is closed") }
        try H5Library.enter(site, operation)
        return site
    }
}
