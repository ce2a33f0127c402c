/* SPDX-License-Identifier: MIT */
/*
 * The error currency of every EFI-free layer: functions return 0 or a
 * negative VQ_E* value. efi/status.c converts to and from EFI_STATUS.
 */
#ifndef VQ_ERR_H
#define VQ_ERR_H

enum vq_err {
	VQ_OK = 0,
	VQ_EINVAL = 1,     /* bad argument from our own caller */
	VQ_ENOMEM = 2,     /* out of memory (heap or DMA) */
	VQ_EIO = 3,        /* device reported an I/O error */
	VQ_ETIMEDOUT = 4,  /* a deadline passed */
	VQ_EBROKEN = 5,    /* the device broke the protocol; queue is dead */
	VQ_ENODEV = 6,     /* no such device / device gone */
	VQ_ENOTSUP = 7,    /* feature or request not supported */
	VQ_ENOSPC = 8,     /* no room: ring full, buffer too small */
	VQ_EAGAIN = 9,     /* nothing ready yet; try again */
	VQ_ENOENT = 10,    /* no such file, entry or partition */
	VQ_ECORRUPT = 11,  /* on-disk or on-wire data is malformed */
	VQ_ERANGE = 12,    /* offset or length beyond the end */
	VQ_EROFS = 13,     /* write to a read-only device */
	VQ_ENOTDIR = 14,   /* path component is not a directory */
	VQ_ELOOP = 15,     /* too many symlinks / a chain loops */
	VQ_ESHORT = 16,    /* device returned fewer bytes than required */
	VQ_EUNSUPP = 17,   /* device answered "unsupported" */
	VQ_ENEEDRESET = 18,/* device set DEVICE_NEEDS_RESET or FAILED */
	VQ_ECANCELED = 19, /* the user cancelled */
	VQ_E2BIG = 20,     /* argument list / command line too long */
	VQ_ESECURITY = 21, /* Secure Boot refused an image */
	VQ_ESTUCK = 22,    /* a device that would not stop may still write the
			    * caller's buffer: it must be leaked, not reused */
	VQ_ERR_MAX
};

/** Short lower-case name of an error ("timed out"); accepts r or -r. */
const char *vq_strerror(int err);

#endif
