// Provides durable replacement of small files on local disk, for state that must survive a
// crash at any instant (kube/file_client.h, the standalone commands' state directory):
//
//   Status written = WriteFileAtomically(dir + "/mnist.json", text, 0600);
//   // A reader (or a process started after a kill -9 or a power cut) sees the old content or
//   // the new one, never a mix, and once this returns OK the new content is on disk.
//
// Thread-safety: no shared state; two calls for the same path at once must be serialised by
// the caller (they share the temporary file).
#pragma once

#include <sys/types.h>

#include <string>

#include "core/status.h"

namespace pygrid::kube {

// Writes `content` to a temporary file beside `path` (".<name>.tmp", mode `mode` regardless of
// the umask), fsyncs it, renames it over `path` and fsyncs the folder.
Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode);
// Removes `path` and fsyncs its folder; OK when it does not exist.
Status RemoveFileDurably(const std::string& path);
// Creates `path` and any missing parents with mode 0700 (each new folder's parent fsync'd), and
// narrows an existing `path` to 0700. Invalid when something else than a folder is in the way.
Status MakePrivateDirectories(const std::string& path);
// Reads the whole file, refusing files larger than `max_bytes`; NotFound when it is absent.
StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);
// True when `name` can be used as one path component: not empty, not "." or "..", no "/" or
// NUL, at most 253 bytes (a Kubernetes name's limit).
bool IsSafeFileName(const std::string& name);

}  // namespace pygrid::kube
