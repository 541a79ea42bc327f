/** "OpenBLAS 0.3.21 (SkylakeX)" from OpenBLAS's build string (version, options, core); another library's name as it is. */
export function shortBlas(blas: string): string {
  const m = /^(OpenBLAS \S+).*?(\([^()]+\))?$/.exec(blas);
  return m ? [m[1], m[2]].filter(Boolean).join(' ') : blas;
}
