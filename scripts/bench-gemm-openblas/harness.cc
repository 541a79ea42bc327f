// One thread, CPU time: our SGEMM (native/gemm*.cc) beside OpenBLAS's cblas_sgemm in the same
// process, rounds alternating so a neighbour's load hits both. Built by ../bench-gemm-openblas.mjs;
// never part of the addon. Arguments: name,ta,tb,m,n,k for each product.
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "gemm.h"

extern "C" void openblas_set_num_threads(int);

namespace {

double threadSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

struct Product {
  char name[64];
  int ta, tb, m, n, k;
};

}  // namespace

int main(int argc, char** argv) {
  openblas_set_num_threads(1);
  std::vector<Product> products;
  size_t floats = 0;
  for (int i = 1; i < argc; i++) {
    Product p;
    if (std::sscanf(argv[i], "%63[^,],%d,%d,%d,%d,%d", p.name, &p.ta, &p.tb, &p.m, &p.n, &p.k) != 6) {
      std::fprintf(stderr, "bench-gemm-openblas: bad product '%s' (want name,ta,tb,m,n,k)\n", argv[i]);
      return 2;
    }
    products.push_back(p);
    floats = std::max({floats, size_t(p.m) * p.k, size_t(p.k) * p.n, size_t(p.m) * p.n});
  }
  std::vector<float> a(floats), b(floats), c(floats);
  for (size_t i = 0; i < floats; i++) {
    a[i] = (i % 13) * 0.1f - 0.6f;
    b[i] = (i % 7) * 0.1f - 0.3f;
  }
  double oursTotal = 0, theirsTotal = 0;
  for (const Product& p : products) {
    const int lda = p.ta ? p.m : p.k, ldb = p.tb ? p.k : p.n;
    const double flop = 2.0 * p.m * p.n * p.k;
    const int calls = std::max(1, int(6e8 / flop));
    double best[2] = {1e9, 1e9};
    for (int round = 0; round < 5; round++)
      for (int who = 0; who < 2; who++) {
        const double start = threadSeconds();
        for (int r = 0; r < calls; r++) {
          if (who == 0) gemm::sgemm(p.ta, p.tb, p.m, p.n, p.k, 1, a.data(), lda, b.data(), ldb, 0, c.data(), p.n);
          else
            cblas_sgemm(CblasRowMajor, p.ta ? CblasTrans : CblasNoTrans, p.tb ? CblasTrans : CblasNoTrans, p.m, p.n, p.k, 1, a.data(), lda,
                        b.data(), ldb, 0, c.data(), p.n);
        }
        best[who] = std::min(best[who], (threadSeconds() - start) / calls);
      }
    oursTotal += best[0];
    theirsTotal += best[1];
    std::printf("  %5d×%-5d·%5d×%-5d ours %6.1f  OpenBLAS %6.1f GFLOP/s  %.2f×  %s\n", p.m, p.k, p.k, p.n, flop / best[0] / 1e9,
                flop / best[1] / 1e9, best[1] / best[0], p.name);
  }
  std::printf("  all products: %.2f× OpenBLAS's speed\n", theirsTotal / oursTotal);
}
