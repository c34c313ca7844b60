// Intentionally empty: SwiftPM needs one source file to build the CMailPortSystem header target.
#include "CMailPortSystem.h"
