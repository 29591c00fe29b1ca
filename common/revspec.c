/* revspec.c: revision specification parser and evaluator (see revspec.h). */
#include "revspec.h"
