// The nn layer in one include: modules, layers (up to the Conformer block),
// initialisers, optimizers, schedules, gradient clipping, safetensors,
// training checkpoints and the atomic file writer and bounded reader they use.
#pragma once
#include "activation.h"
#include "attention_diagnostics.h"
#include "checkpoint.h"
#include "clip_grad.h"
#include "container.h"
#include "conv.h"
#include "files.h"
#include "init.h"
#include "linear.h"
#include "lr_scheduler.h"
#include "module.h"
#include "normalization.h"
#include "optimizer.h"
#include "positional.h"
#include "safetensors.h"
#include "state_dict.h"
#include "conformer.h"
#include "transformer.h"
