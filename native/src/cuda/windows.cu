// Sliding-window kernels on the cuda device: the element, row and plane bodies of
// kernels/windows.h as grids. Adjoints (fold, max pooling's Jᵀ) run one image plane per thread,
// so every plane's sums keep the body's fixed order and no two threads write one element.
#include "launch.cuh"

namespace bp {

void CudaDevice::unfold(const UnfoldParams& u) { gpu::launch(stream(), u.B * u.C * u.w.K * u.w.P, gpu::UnfoldBody{u}); }

void CudaDevice::fold(const UnfoldParams& u) { gpu::launch(stream(), u.B * u.C, gpu::FoldPlanes{u}); }

void CudaDevice::maxPool(const MaxPoolParams& m) { gpu::launch(stream(), m.BC * m.w.P, gpu::MaxPoolBody{m}); }

void CudaDevice::maxPoolJacT(const MaxPoolRouteParams& r) { gpu::launch(stream(), r.v * r.BC, gpu::MaxPoolJacTPlanes{r}); }

void CudaDevice::maxPoolJvp(const MaxPoolRouteParams& r) { gpu::launch(stream(), r.BC * r.w.P, gpu::MaxPoolJvpBody{r}); }

}  // namespace bp
