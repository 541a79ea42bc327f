{
  "targets": [
    {
      "target_name": "corpus_lab_native",
      "sources": ["native/addon.cc", "native/kernels.cc", "native/decode.cc", "native/llama-decode.cc", "native/bf16.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-fvisibility=hidden"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "conditions": [
        ["OS=='linux'", {
          "include_dirs": ["/usr/include/<(target_arch_triplet)/openblas-pthread"],
          "libraries": ["/usr/lib/<(target_arch_triplet)/openblas-pthread/libopenblas.a", "-lpthread", "-Wl,--exclude-libs,ALL", "-s"]
        }],
        ["OS=='mac'", {
          "libraries": ["-framework Accelerate"],
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_OPTIMIZATION_LEVEL": "3",
            "OTHER_CPLUSPLUSFLAGS": ["-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-fopenmp-simd"],
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }]
      ]
    }
  ],
  "variables": {
    "target_arch_triplet%": "<!(node -p \"({x64:'x86_64-linux-gnu',arm64:'aarch64-linux-gnu'})[process.arch] || process.arch + '-linux-gnu'\")"
  }
}
