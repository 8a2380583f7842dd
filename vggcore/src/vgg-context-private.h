/* What the engine's own tests may ask a context beyond the public API. */
#ifndef VGG_CONTEXT_PRIVATE_H
#define VGG_CONTEXT_PRIVATE_H

#include "vggcore/vggcore.h"

/* Layers computed by the context's forward passes since it was created:
 * one per layer of vgg_model_get_layer run, whatever the precision.  A
 * deterministic witness that a pass stopped where it should. */
uint64_t vgg_context_get_layers_run (const VggContext *context);

#endif
