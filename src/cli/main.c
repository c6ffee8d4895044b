/* Placeholder entry point; the CLI lands with the foundation issue. */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "sparsify: not implemented yet\n");
    return 1;
}
