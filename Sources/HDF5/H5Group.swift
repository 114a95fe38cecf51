import CHDF5

/// What a name in a group refers to.
public enum H5ObjectKind: Sendable, Equatable {
    case group, dataset, other
}

/// A group: named children (groups and datasets) and attributes.
/// Names may be paths ("teacher/layer3"); a leading "/" starts at the file's root.
public final class H5Group: H5Object {
    /// Creates a group, and any missing groups on its path.
    public func createGroup(_ name: String) throws -> H5Group {
        let operation = "create group '\(name)'"
        let site = try enter(operation)
        let links = try linkProperties(site, operation)
        defer { H5Pclose(links) }
        let group = try site.check(H5Gcreate2(id, name, links, h5Default, h5Default), operation)
        return H5Group(file: file, path: childPath(name), id: group)
    }

    public func group(_ name: String) throws -> H5Group {
        let operation = "open group '\(name)'"
        let site = try enter(operation)
        guard try kind(of: name) == .group else { throw site.error(operation, "there is no group of that name") }
        let group = try site.check(H5Gopen2(id, name, h5Default), operation)
        return H5Group(file: file, path: childPath(name), id: group)
    }

    /// Names of the direct children, in alphabetical order.
    public var childNames: [String] {
        get throws {
            let operation = "list children"
            let site = try enter(operation)
            var info = H5G_info_t()
            try site.check(H5Gget_info(id, &info), operation)
            return try (0..<info.nlinks).map { index in
                try H5Object.name(site, operation) { buffer, size in
                    H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, buffer, size, h5Default)
                }
            }
        }
    }

    /// Unlinks `name` (a group with everything below it, or a dataset). Its file space is freed
    /// for reuse by later writes in this session.
    public func removeChild(_ name: String) throws {
        let operation = "remove '\(name)'"
        let site = try enter(operation)
        try site.check(H5Ldelete(id, name, h5Default), operation)
    }

    public func hasChild(_ name: String) throws -> Bool {
        try kind(of: name) != nil
    }

    /// What `name` refers to, or nil when nothing of that name exists.
    public func kind(of name: String) throws -> H5ObjectKind? {
        let operation = "look up '\(name)'"
        let site = try enter(operation)
        // H5Lexists fails (rather than answering false) when a parent is missing,
        // so walk the path one link at a time.
        var prefix = name.hasPrefix("/") ? "/" : ""
        for component in name.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix == "/" ? "" : "/") + component
            if try site.check(H5Lexists(id, prefix, h5Default), operation) == 0 { return nil }
        }
        switch dh5_object_type(id, name) {
        case Int32(H5O_TYPE_GROUP.rawValue): return .group
        case Int32(H5O_TYPE_DATASET.rawValue): return .dataset
        case -1: throw site.hdf5Error(operation)
        default: return .other
        }
    }

    /// Creates an empty dataset that grows along its rows: shape (0, columns), or (0)
    /// when `columns` is 0 (one-dimensional). Chunks span all columns.
    public func createDataset(_ name: String, type: H5ElementType, columns: Int = 0,
                              options: H5DatasetOptions = H5DatasetOptions()) throws -> H5Dataset {
        let operation = "create dataset '\(name)'"
        let site = try enter(operation)
        guard columns >= 0 else { throw site.error(operation, "columns must not be negative") }
        let codec: H5ChunkCodec
        do {
            codec = try H5ChunkCodec(elementType: type, columns: max(columns, 1), options: options)
        } catch let error as H5Error {
            throw site.error(operation, error.reason)
        }
        let rank: Int32 = columns == 0 ? 1 : 2
        var dims: [hsize_t] = columns == 0 ? [0] : [0, hsize_t(columns)]
        var maxDims: [hsize_t] = columns == 0 ? [dh5_s_unlimited()] : [dh5_s_unlimited(), hsize_t(columns)]
        var chunk: [hsize_t] = columns == 0 ? [hsize_t(codec.chunkRows)] : [hsize_t(codec.chunkRows), hsize_t(columns)]
        let space = try site.check(H5Screate_simple(rank, &dims, &maxDims), operation)
        defer { H5Sclose(space) }

        // The filter pipeline: shuffle → compression → Fletcher32 (H5ChunkCodec runs the same).
        let create = try site.check(H5Pcreate(dh5_p_dataset_create()), operation)
        defer { H5Pclose(create) }
        try site.check(H5Pset_chunk(create, rank, &chunk), operation)
        if codec.shuffle { try site.check(H5Pset_shuffle(create), operation) }
        switch codec.compression {
        case .none: break
        case .zstd(let level):
            var values = [UInt32(bitPattern: Int32(level))]
            try site.check(H5Pset_filter(create, H5Z_filter_t(H5Dataset.zstdFilterID), UInt32(H5Z_FLAG_MANDATORY), 1, &values), operation)
        case .gzip(let level):
            try site.check(H5Pset_deflate(create, UInt32(level)), operation)
        }
        if codec.checksum { try site.check(H5Pset_fletcher32(create), operation) }

        let links = try linkProperties(site, operation)
        defer { H5Pclose(links) }
        let access = try H5Dataset.accessProperties(chunkBytes: codec.chunkBytes, site, operation)
        defer { H5Pclose(access) }
        let dataset = try type.withDatatype(stored: true, site) { stored in
            try site.check(H5Dcreate2(id, name, stored, space, links, create, access), operation)
        }
        return try H5Dataset(file: file, path: childPath(name), id: dataset, site)
    }

    /// Opens a dataset (with a chunk cache of at least four chunks, for row-range reads).
    public func dataset(_ name: String) throws -> H5Dataset {
        let operation = "open dataset '\(name)'"
        let site = try enter(operation)
        guard try kind(of: name) == .dataset else { throw site.error(operation, "there is no dataset of that name") }
        // Open once to learn the chunk size, then again with a cache that fits it.
        let probe = try site.check(H5Dopen2(id, name, h5Default), operation)
        let chunkBytes = H5Dataset.chunkBytes(of: probe)
        H5Dclose(probe)
        let access = try H5Dataset.accessProperties(chunkBytes: chunkBytes, site, operation)
        defer { H5Pclose(access) }
        let dataset = try site.check(H5Dopen2(id, name, access), operation)
        return try H5Dataset(file: file, path: childPath(name), id: dataset, site)
    }

    /// Link creation that makes missing intermediate groups.
    private func linkProperties(_ site: H5Site, _ operation: String) throws -> hid_t {
        let links = try site.check(H5Pcreate(dh5_p_link_create()), operation)
        if H5Pset_create_intermediate_group(links, 1) < 0 {
            H5Pclose(links)
            throw site.hdf5Error(operation)
        }
        return links
    }
}
