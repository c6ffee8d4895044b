/* The sparsify executable (also reached as sparsify.run): start MPI, run the
 * command, stop MPI. Everything else lives in sp_cli_main. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    struct sp_comm *world = sp_comm_init(&argc, &argv, NULL);
    int code = sp_cli_main(argc, argv, world);
    return sp_comm_finalize(world, code);
}
