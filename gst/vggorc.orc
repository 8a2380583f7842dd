# ORC kernels of vgginfer.
#
# vgg_orc_bytes_to_floats: bytes to floats, d = s * scale + offset with a
# multiply then an add (no fused multiply-add: the same float as the C
# expression compiled without contraction).  Used on one row of packed RGB
# (3 * width bytes) with scale and offset holding the per-channel pattern
# (scale_r, scale_g, scale_b repeated width times): one row of the
# (height, width, 3) input, normalized as torchvision's ToTensor +
# Normalize, out_c = (x_c / 255 - mean_c) / std_c, computed as
# x_c * scale_c + offset_c with scale_c = 1 / (255 std_c) and
# offset_c = -mean_c / std_c.
.function vgg_orc_bytes_to_floats
.dest 4 d float
.source 1 s uint8_t
.source 4 scale float
.source 4 offset float
.temp 2 w
.temp 4 l
.temp 4 f

convubw w, s
convuwl l, w
convlf f, l
mulf f, f, scale
addf d, f, offset
