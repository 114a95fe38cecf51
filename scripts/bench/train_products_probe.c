/* The fp32 training products of a 3×384 student (all-MiniLM-L6-v2's shapes): OpenBLAS in 8 fixed
 * row blocks over 2 threads, as `linearForward` / `linearBackward` split them, against one oneDNN
 * matmul per product on 2 threads with plain layouts; and whether oneDNN gives the same bits on
 * 1, 2 and 3 threads. Not product code: a measurement (docs/benchmarks.md, fourth session).
 *
 *   cc -O2 -fopenmp scripts/bench/train_products_probe.c -o build/train_products_probe \
 *      $(pkg-config --cflags --libs openblas) -ldnnl -lm
 *   OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=passive build/train_products_probe 4096   # rows = batch × seq
 */
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define CHECK(c) do{dnnl_status_t s=(c); if(s){fprintf(stderr,"%s: %d\n",#c,s);exit(1);}}while(0)
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static dnnl_engine_t eng;
// C (m,n) (+)= op(A) (m,k) · op(B) (k,n); row-major storage; ta: A stored (k,m); tb: B stored (n,k)
static void blas8(int ta,int tb,int m,int n,int k,const float*a,const float*b,float*c,int splitN){
  #pragma omp parallel for num_threads(2) schedule(static)
  for(int i=0;i<8;i++){
    if(!splitN){int s=m*i/8,e=m*(i+1)/8; cblas_sgemm(CblasRowMajor,ta?CblasTrans:CblasNoTrans,tb?CblasTrans:CblasNoTrans,e-s,n,k,1,ta?a+s:a+(long)s*k,ta?m:k,b,tb?k:n,1,c+(long)s*n,n);}
    else {int s=m*i/8,e=m*(i+1)/8; /* dW: split over m (out features) too: A = dY stored (k,m) */ cblas_sgemm(CblasRowMajor,CblasTrans,CblasNoTrans,e-s,n,k,1,a+s,m,b,n,1,c+(long)s*n,n);}
  }
}
static dnnl_primitive_t make(int ta,int tb,int m,int n,int k,dnnl_memory_desc_t*sa,dnnl_memory_desc_t*sb,dnnl_memory_desc_t*sc){
  dnnl_dims_t ad={m,k},bd={k,n},cd={m,n};
  dnnl_dims_t as={ta?1:k, ta?m:1}, bs={tb?1:n, tb?k:1}, cs={n,1};
  CHECK(dnnl_memory_desc_init_by_strides(sa,2,ad,dnnl_f32,as));
  CHECK(dnnl_memory_desc_init_by_strides(sb,2,bd,dnnl_f32,bs));
  CHECK(dnnl_memory_desc_init_by_strides(sc,2,cd,dnnl_f32,cs));
  dnnl_matmul_desc_t md; CHECK(dnnl_matmul_desc_init(&md,sa,sb,NULL,sc));
  dnnl_primitive_attr_t at; CHECK(dnnl_primitive_attr_create(&at)); dnnl_post_ops_t po; CHECK(dnnl_post_ops_create(&po));
  CHECK(dnnl_post_ops_append_sum(po,1)); CHECK(dnnl_primitive_attr_set_post_ops(at,po));
  dnnl_primitive_desc_t pd; CHECK(dnnl_primitive_desc_create(&pd,&md,at,eng,NULL));
  const char*impl; dnnl_primitive_desc_query(pd,dnnl_query_impl_info_str,0,&impl); printf("  impl %s\n",impl);
  dnnl_primitive_t p; CHECK(dnnl_primitive_create(&p,pd)); return p;
}
static void run(dnnl_primitive_t p,dnnl_memory_desc_t*sa,dnnl_memory_desc_t*sb,dnnl_memory_desc_t*sc,const float*a,const float*b,float*c){
  dnnl_stream_t st; CHECK(dnnl_stream_create(&st,eng,dnnl_stream_default_flags));
  dnnl_memory_t ma,mb,mc; CHECK(dnnl_memory_create(&ma,sa,eng,(void*)a)); CHECK(dnnl_memory_create(&mb,sb,eng,(void*)b)); CHECK(dnnl_memory_create(&mc,sc,eng,c));
  dnnl_exec_arg_t args[3]={{DNNL_ARG_SRC,ma},{DNNL_ARG_WEIGHTS,mb},{DNNL_ARG_DST,mc}};
  CHECK(dnnl_primitive_execute(p,st,3,args)); dnnl_stream_wait(st); dnnl_memory_destroy(ma);dnnl_memory_destroy(mb);dnnl_memory_destroy(mc); dnnl_stream_destroy(st);
}
int main(int argc,char**argv){ openblas_set_num_threads(1); CHECK(dnnl_engine_create(&eng,dnnl_cpu,0));
 int R=argc>1?atoi(argv[1]):4096;
 // name, ta, tb, m, n, k, splitN
 struct {const char*name;int ta,tb,m,n,k,dw;} s[]={
  {"fwd qkv  x·Wᵀ",0,1,R,1152,384,0},{"fwd ffn1 x·Wᵀ",0,1,R,1536,384,0},{"fwd ffn2 x·Wᵀ",0,1,R,384,1536,0},
  {"dX ffn1 dY·W",0,0,R,384,1536,0},{"dX ffn2 dY·W",0,0,R,1536,384,0},
  {"dW ffn1 dYᵀ·X",1,0,1536,384,R,1},{"dW ffn2 dYᵀ·X",1,0,384,1536,R,1},{"dW qkv dYᵀ·X",1,0,1152,384,R,1}};
 for(int i=0;i<8;i++){int ta=s[i].ta,tb=s[i].tb,m=s[i].m,n=s[i].n,k=s[i].k;
  float*a=malloc(4L*m*k),*b=malloc(4L*k*n),*c=calloc((long)m*n,4),*c1=calloc((long)m*n,4),*c2=calloc((long)m*n,4),*c3=calloc((long)m*n,4);
  for(long j=0;j<(long)m*k;j++)a[j]=(float)rand()/RAND_MAX-.5f; for(long j=0;j<(long)k*n;j++)b[j]=(float)rand()/RAND_MAX-.5f;
  printf("%s m%d n%d k%d\n",s[i].name,m,n,k);
  dnnl_memory_desc_t sa,sb,sc; dnnl_primitive_t p=make(ta,tb,m,n,k,&sa,&sb,&sc);
  double tb8=1e9,tdn=1e9;
  for(int r=0;r<7;r++){double t=now(); blas8(ta,tb,m,n,k,a,b,c,s[i].dw); t=now()-t; if(t<tb8)tb8=t;
    omp_set_num_threads(2); t=now(); run(p,&sa,&sb,&sc,a,b,c); t=now()-t; if(t<tdn)tdn=t;}
  omp_set_num_threads(1); run(p,&sa,&sb,&sc,a,b,c1); omp_set_num_threads(2); run(p,&sa,&sb,&sc,a,b,c2); omp_set_num_threads(3); run(p,&sa,&sb,&sc,a,b,c3);
  double fl=2.0*m*n*k*1e-9;
  printf("  openblas 8 blocks: %.0f GFLOP/s, onednn 1 call: %.0f GFLOP/s (%.2fx); threads 1/2/3 bits: %s %s\n",fl/tb8,fl/tdn,tb8/tdn,memcmp(c1,c2,4L*m*n)?"DIFF":"same",memcmp(c1,c3,4L*m*n)?"DIFF":"same");
  free(a);free(b);free(c);free(c1);free(c2);free(c3);}
}
