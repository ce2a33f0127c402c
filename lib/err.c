/* SPDX-License-Identifier: MIT */
#include "lib/err.h"

static const char *const err_names[VQ_ERR_MAX] = {
	[VQ_OK] = "success",
	[VQ_EINVAL] = "invalid argument",
	[VQ_ENOMEM] = "out of memory",
	[VQ_EIO] = "I/O error",
	[VQ_ETIMEDOUT] = "timed out",
	[VQ_EBROKEN] = "device broke the virtio protocol",
	[VQ_ENODEV] = "no such device",
	[VQ_ENOTSUP] = "not supported",
	[VQ_ENOSPC] = "no space",
	[VQ_EAGAIN] = "try again",
	[VQ_ENOENT] = "not found",
	[VQ_ECORRUPT] = "corrupt data",
	[VQ_ERANGE] = "out of range",
	[VQ_EROFS] = "read-only device",
	[VQ_ENOTDIR] = "not a directory",
	[VQ_ELOOP] = "loop detected",
	[VQ_ESHORT] = "short transfer",
	[VQ_EUNSUPP] = "device reports unsupported request",
	[VQ_ENEEDRESET] = "device needs reset",
	[VQ_ECANCELED] = "cancelled",
	[VQ_E2BIG] = "too big",
	[VQ_ESECURITY] = "refused by Secure Boot",
	[VQ_ESTUCK] = "device would not stop; buffer lost",
};

const char *vq_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= VQ_ERR_MAX || !err_names[err])
		return "unknown error";
	return err_names[err];
}
