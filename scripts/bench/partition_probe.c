/* Whether OpenBLAS's sgemm gives the same bits when a product is split into row blocks of other
 * sizes (each block one single-threaded call, as `parallelBlocks` splits the training's linear
 * layers). Prints, per shape of all-MiniLM-L6-v2's products, "same" or "DIFF" for 1, 2, 3, 4 and
 * 16 blocks against 8. Not product code: a measurement (docs/benchmarks.md, fourth session).
 *
 *   cc -O2 scripts/bench/partition_probe.c -o build/partition_probe $(pkg-config --cflags --libs openblas)
 *   for core in SkylakeX Haswell; do OPENBLAS_CORETYPE=$core build/partition_probe; done
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static float rnd(void){return (float)rand()/RAND_MAX-0.5f;}
// C(m,n) = A(m,k)·op(B) ; split rows into nb blocks
static void run(int ta,int tb,int m,int n,int k,int nb,float*a,float*b,float*c){
  for(int i=0;i<nb;i++){int s=m*i/nb,e=m*(i+1)/nb;
    const float* ai = ta? a+s : a+(size_t)s*k;
    cblas_sgemm(CblasRowMajor, ta?CblasTrans:CblasNoTrans, tb?CblasTrans:CblasNoTrans, e-s,n,k,1.f,ai, ta?m:k, b, tb?k:n, 1.f, c+(size_t)s*n, n);}
}
int main(){ openblas_set_num_threads(1);
 int shapes[][5]={{0,1,2048,384,384},{0,1,2048,1536,384},{0,1,4096,384,1536},{0,0,4096,384,384},{0,0,2048,1536,384},{1,0,384,384,4096},{1,0,1536,384,2048},{1,0,384,1536,1024}};
 for(int s=0;s<8;s++){int ta=shapes[s][0],tb=shapes[s][1],m=shapes[s][2],n=shapes[s][3],k=shapes[s][4];
  float*a=malloc(4L*m*k),*b=malloc(4L*n*k),*c1=malloc(4L*m*n),*c2=malloc(4L*m*n);
  for(long i=0;i<(long)m*k;i++)a[i]=rnd(); for(long i=0;i<(long)n*k;i++)b[i]=rnd();
  int bl[]={1,2,3,4,8,16}; 
  for(long i=0;i<(long)m*n;i++)c1[i]=0.1f; run(ta,tb,m,n,k,8,a,b,c1);
  printf("ta%d tb%d m%d n%d k%d:",ta,tb,m,n,k);
  for(int j=0;j<6;j++){for(long i=0;i<(long)m*n;i++)c2[i]=0.1f; run(ta,tb,m,n,k,bl[j],a,b,c2); printf(" %d:%s",bl[j],memcmp(c1,c2,4L*m*n)?"DIFF":"same");}
  printf("\n"); free(a);free(b);free(c1);free(c2);}
}
