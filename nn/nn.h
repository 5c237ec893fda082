// The nn layer in one include: modules, layers, initialisers, optimizers,
// schedules, gradient clipping and checkpoints.
#pragma once
#include "activation.h"
#include "container.h"
#include "conv.h"
#include "init.h"
#include "linear.h"
#include "module.h"
#include "normalization.h"
#include "positional.h"
#include "state_dict.h"
#include "transformer.h"
