/* The physical floor for process cold start: a native hello world. */
#include <unistd.h>

int main(void) {
    static const char msg[] = "Hello, world!\n";
    return write(1, msg, sizeof msg - 1) == (ssize_t)(sizeof msg - 1) ? 0 : 1;
}
