#ifndef DISTILLERY_CHDF5_SHIM_H
#define DISTILLERY_CHDF5_SHIM_H
#include <hdf5.h>

// Swift cannot import macros that expand to H5OPEN globals; expose them as functions.
static inline hid_t dh5_native_float(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t dh5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t dh5_native_int8(void)   { return H5T_NATIVE_INT8; }
static inline hid_t dh5_native_uint8(void)  { return H5T_NATIVE_UINT8; }
static inline hid_t dh5_native_int16(void)  { return H5T_NATIVE_INT16; }
static inline hid_t dh5_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t dh5_native_int32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t dh5_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t dh5_native_int64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t dh5_ieee_f32le(void)    { return H5T_IEEE_F32LE; }
static inline hid_t dh5_c_s1(void)          { return H5T_C_S1; }
static inline hid_t dh5_p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t dh5_p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t dh5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t dh5_p_dataset_access(void) { return H5P_DATASET_ACCESS; }
static inline hid_t dh5_p_dataset_xfer(void) { return H5P_DATASET_XFER; }
static inline hid_t dh5_p_link_create(void) { return H5P_LINK_CREATE; }
static inline unsigned dh5_f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned dh5_f_acc_excl(void)  { return H5F_ACC_EXCL; }
static inline unsigned dh5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned dh5_f_acc_rdwr(void)  { return H5F_ACC_RDWR; }
static inline hsize_t dh5_s_unlimited(void)  { return H5S_UNLIMITED; }
#endif
