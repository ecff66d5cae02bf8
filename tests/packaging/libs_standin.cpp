// Stand-in for the operator binary in the image library check (check_image_libraries.py) until
// the real pygrid-operator target exists: it is linked with --no-as-needed against the same
// dependency targets, so `ldd` lists the libraries the operator will load.
int main() { return 0; }
