import CHDF5

/// One mapping of a virtual dataset (HDF5 1.10 VDS): rows `rows` of the virtual dataset are
/// rows `0..<rows.count` of `dataset` in `file`, all columns.
///
/// `file` is stored as given. A relative name is looked for next to the virtual dataset's own
/// file (HDF5 tries `HDF5_VDS_PREFIX` first when that is set), so a folder holding the
/// virtual file and its sources can be moved as a whole.
public struct H5VirtualSource: Sendable, Equatable {
    public var file: String
    public var dataset: String
    public var rows: Range<Int>

    public init(file: String, dataset: String, rows: Range<Int>) {
        self.file = file; self.dataset = dataset; self.rows = rows
    }
}

extension H5Group {
    /// Creates a fixed-size virtual dataset of `rows` rows (and `columns` columns; 0 makes it
    /// one-dimensional) whose rows come from other files' datasets. No data is copied.
    ///
    /// HDF5 reads a source it cannot open as the fill value, without an error. The fill here
    /// is unmistakable instead of 0: NaN for floats, -1 for signed and the largest value for
    /// unsigned integers. Callers should still check that the sources exist.
    public func createVirtualDataset(_ name: String, type: H5ElementType, columns: Int = 0, rows: Int,
                                     sources: [H5VirtualSource]) throws -> H5Dataset {
        let operation = "create virtual dataset '\(name)'"
        let site = try enter(operation)
        let rank: Int32 = columns == 0 ? 1 : 2
        let width = hsize_t(max(columns, 1))
        var dims: [hsize_t] = columns == 0 ? [hsize_t(rows)] : [hsize_t(rows), width]
        let space = try site.check(H5Screate_simple(rank, &dims, nil), operation)
        defer { H5Sclose(space) }
        let create = try site.check(H5Pcreate(dh5_p_dataset_create()), operation)
        defer { H5Pclose(create) }
        var fill: Double = type.isFloat ? .nan : (type.isSigned ? -1 : Double((UInt64(1) << UInt64(type.size * 8)) - 1))
        try site.check(H5Pset_fill_value(create, dh5_native_double(), &fill), operation)
        for source in sources where !source.rows.isEmpty {
            guard source.rows.lowerBound >= 0, source.rows.upperBound <= rows else {
                throw site.error(operation, "source rows \(source.rows) are outside the dataset's 0..<\(rows)")
            }
            var sourceDims: [hsize_t] = columns == 0 ? [hsize_t(source.rows.count)] : [hsize_t(source.rows.count), width]
            let sourceSpace = try site.check(H5Screate_simple(rank, &sourceDims, nil), operation)
            defer { H5Sclose(sourceSpace) }
            var start: [hsize_t] = columns == 0 ? [hsize_t(source.rows.lowerBound)] : [hsize_t(source.rows.lowerBound), 0]
            try site.check(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nil, &sourceDims, nil), operation)
            try site.check(H5Pset_virtual(create, space, source.file, source.dataset, sourceSpace), operation + " (mapping \(source.file))")
        }
        try site.check(H5Sselect_all(space), operation)
        let links = try site.check(H5Pcreate(dh5_p_link_create()), operation)
        defer { H5Pclose(links) }
        try site.check(H5Pset_create_intermediate_group(links, 1), operation)
        let dataset = try type.withDatatype(stored: true, site) { stored in
            try site.check(H5Dcreate2(id, name, stored, space, links, create, h5Default), operation)
        }
        return try H5Dataset(file: file, path: childPath(name), id: dataset, site)
    }
}

extension H5Dataset {
    /// Whether the dataset is virtual (its rows live in other datasets).
    public var isVirtual: Bool {
        get throws {
            let operation = "read the layout"
            let site = try enter(operation)
            let create = try site.check(H5Dget_create_plist(id), operation)
            defer { H5Pclose(create) }
            return H5Pget_layout(create) == H5D_VIRTUAL
        }
    }

    /// The mappings of a virtual dataset, in the order they were made (empty when not virtual).
    public var virtualSources: [H5VirtualSource] {
        get throws {
            let operation = "read the virtual mappings"
            let site = try enter(operation)
            let create = try site.check(H5Dget_create_plist(id), operation)
            defer { H5Pclose(create) }
            guard H5Pget_layout(create) == H5D_VIRTUAL else { return [] }
            var count = 0
            try site.check(H5Pget_virtual_count(create, &count), operation)
            return try (0..<count).map { index in
                let space = try site.check(H5Pget_virtual_vspace(create, index), operation)
                defer { H5Sclose(space) }
                var start = [hsize_t](repeating: 0, count: rank), end = [hsize_t](repeating: 0, count: rank)
                try site.check(H5Sget_select_bounds(space, &start, &end), operation)
                let file = try H5Object.name(site, operation) { buffer, size in H5Pget_virtual_filename(create, index, buffer, size) }
                let dataset = try H5Object.name(site, operation) { buffer, size in H5Pget_virtual_dsetname(create, index, buffer, size) }
                return H5VirtualSource(file: file, dataset: dataset, rows: Int(start[0])..<(Int(end[0]) + 1))
            }
        }
    }
}
