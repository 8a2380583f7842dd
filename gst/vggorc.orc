# ORC kernels of vgginfer.
#
# vgg_orc_rgbx_to_planes: RGBx pixels (bytes R, G, B, x in memory, one
# little-endian uint32 per pixel) to three float planes normalized as
# torchvision's ToTensor + Normalize: out_c = (x_c / 255 - mean_c) / std_c,
# computed as x_c * scale_c + offset_c with scale_c = 1 / (255 std_c) and
# offset_c = -mean_c / std_c.

.function vgg_orc_rgbx_to_planes
.dest 4 r float
.dest 4 g float
.dest 4 b float
.source 4 s uint32_t
.floatparam 4 scale_r
.floatparam 4 scale_g
.floatparam 4 scale_b
.floatparam 4 offset_r
.floatparam 4 offset_g
.floatparam 4 offset_b
.temp 2 rg
.temp 2 bx
.temp 1 c0
.temp 1 c1
.temp 2 w
.temp 4 l
.temp 4 f

splitlw bx, rg, s
splitwb c1, c0, rg
convubw w, c0
convuwl l, w
convlf f, l
mulf f, f, scale_r
addf r, f, offset_r
convubw w, c1
convuwl l, w
convlf f, l
mulf f, f, scale_g
addf g, f, offset_g
splitwb c1, c0, bx
convubw w, c0
convuwl l, w
convlf f, l
mulf f, f, scale_b
addf b, f, offset_b
