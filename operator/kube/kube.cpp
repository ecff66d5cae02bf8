// pygrid_kube's anchor translation unit: the library is the union of its parts.
namespace pygrid::kube {
// The runtime's version string, for User-Agent and logs.
const char* RuntimeVersion() { return "pygrid-kube/0.1"; }
}  // namespace pygrid::kube
