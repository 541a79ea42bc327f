{
  "target_defaults": {
    "cflags_cc": ["-std=c++17", "-O3", "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math", "-fvisibility=hidden"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
    "xcode_settings": {
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "GCC_OPTIMIZATION_LEVEL": "3",
      "OTHER_CPLUSPLUSFLAGS": ["-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"],
      "MACOSX_DEPLOYMENT_TARGET": "11.0"
    }
  },
  "targets": [
    {
      "target_name": "corpus_lab_native",
      "sources": ["native/addon.cc", "native/kernels.cc", "native/decode.cc", "native/llama-decode.cc", "native/bf16.cc", "native/linear-cross-entropy.cc", "native/gemm.cc", "native/gpt2-block.cc", "native/llama-block.cc", "native/optimizer.cc"],
      "dependencies": ["gemm_generic"],
      "cflags_cc": ["-ffp-contract=off"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-ffp-contract=off"] },
      "conditions": [
        ["target_arch=='x64'", { "dependencies": ["gemm_avx2", "gemm_avx512"] }],
        ["OS=='linux'", { "libraries": ["-lpthread", "-s"] }]
      ]
    },
    {
      "target_name": "gemm_generic",
      "type": "static_library",
      "sources": ["native/gemm-generic.cc"],
      "cflags_cc": ["-ffp-contract=fast"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-ffp-contract=fast"] }
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "gemm_avx2",
          "type": "static_library",
          "sources": ["native/gemm-avx2.cc"],
          "cflags_cc": ["-ffp-contract=fast", "-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-ffp-contract=fast", "-mavx2", "-mfma"] }
        },
        {
          "target_name": "gemm_avx512",
          "type": "static_library",
          "sources": ["native/gemm-avx512.cc"],
          "cflags_cc": ["-ffp-contract=fast", "-mavx512f", "-mfma"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-ffp-contract=fast", "-mavx512f", "-mfma"] }
        }
      ]
    }]
  ]
}
