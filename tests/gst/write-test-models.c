/* write-test-models PATH: writes the "spot" model of vgg-test-models.h
 * (for the Python test).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>

#include "vgg-test-models.h"

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: write-test-models PATH\n");
    return 2;
  }
  if (!vgg_test_write_spot_model (argv[1])) {
    fprintf (stderr, "write-test-models: cannot write %s\n", argv[1]);
    return 1;
  }
  return 0;
}
