#include <stdio.h>
#include <stdlib.h>
#include <dlfcn.h>
#include <time.h>
#include <string.h>
typedef void (*sgemm_t)(int order,int ta,int tb,int m,int n,int k,float alpha,const float*a,int lda,const float*b,int ldb,float beta,float*c,int ldc);
typedef int (*dnnl_sgemm_t)(char ta,char tb,long m,long n,long k,float alpha,const float*a,long lda,const float*b,long ldb,float beta,float*c,long ldc);
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  const char*lib=argv[1]; int dnnl=strstr(lib,"dnnl")!=0;
  void*h=dlopen(lib,RTLD_NOW|RTLD_LOCAL); if(!h){printf("%s\n",dlerror());return 1;}
  sgemm_t sg=0; dnnl_sgemm_t dg=0;
  if(dnnl) dg=(dnnl_sgemm_t)dlsym(h,"dnnl_sgemm"); else sg=(sgemm_t)dlsym(h,"cblas_sgemm");
  void (*setthr)(int)=(void(*)(int))dlsym(h,"openblas_set_num_threads"); if(setthr) setthr(1);
  void (*bset)(long)=(void(*)(long))dlsym(h,"bli_thread_set_num_threads"); if(bset) bset(1);
  int sizes[][4]={{1024,1024,1024,0},{128,256,784,0},{64,100352,75,0},{96,18432,576,0},{576,96,18432,1},{128,512,1152,0},{1152,512,128,1}};
  for(int s=0;s<7;s++){int m=sizes[s][0],n=sizes[s][1],k=sizes[s][2],tA=sizes[s][3];
    float*a=malloc(4L*m*k),*b=malloc(4L*k*n),*c=malloc(4L*m*n);
    for(long i=0;i<(long)m*k;i++)a[i]=(i%7)*0.1f; for(long i=0;i<(long)k*n;i++)b[i]=(i%5)*0.1f; memset(c,0,4L*m*n);
    int reps=0;double t0=now(),t;
    do{ if(dnnl) dg(tA?'T':'N','N',m,n,k,1,a,tA?m:k,b,n,0,c,n); else sg(101,tA?112:111,111,m,n,k,1,a,tA?m:k,b,n,0,c,n); reps++; t=now()-t0;}while(t<0.5);
    printf("%-40s %5d %6d %6d tA=%d  %.1f GFLOP/s\n",lib+ (strrchr(lib,'/')?strrchr(lib,'/')-lib+1:0),m,n,k,tA,2.0*m*n*k*reps/t*1e-9);
    free(a);free(b);free(c);}
}
