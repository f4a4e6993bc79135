#include "qemu/osdep.h"
#include "hw/pci/pci.h"
#include "standard-headers/misc/kesync_hw.h"
