#include <stdio.h>
#include <stdlib.h>
#include <dlfcn.h>
#include <signal.h>
#include <sys/time.h>
#include <string.h>
typedef int (*dnnl_sgemm_t)(char,char,long,long,long,float,const float*,long,const float*,long,float,float*,long);
static volatile long ticks=0;
static void on_prof(int s){ticks++;}
int main(){
  void*h=dlopen("libdnnl.so.2",RTLD_NOW|RTLD_LOCAL); dnnl_sgemm_t g=(dnnl_sgemm_t)dlsym(h,"dnnl_sgemm");
  void(*omp)(int)=(void(*)(int))dlsym(h,"omp_set_num_threads"); omp(1);
  struct sigaction sa; memset(&sa,0,sizeof sa); sa.sa_handler=on_prof; sa.sa_flags=SA_RESTART; sigaction(SIGPROF,&sa,0);
  struct itimerval t={{0,100},{0,100}}; setitimer(ITIMER_PROF,&t,0);
  srand(5);
  for(int it=0;it<3000;it++){int M=1+rand()%300,N=1+rand()%300,K=1+rand()%300; int ta=rand()%2,tb=rand()%2;
    float*a=malloc(4L*M*K),*b=malloc(4L*K*N),*c=malloc(4L*M*N); for(long i=0;i<(long)M*K;i++)a[i]=1; for(long i=0;i<(long)K*N;i++)b[i]=1;
    g(ta?'T':'N',tb?'T':'N',M,N,K,1,a,ta?M:K,b,tb?K:N,0,c,N); if(c[0]!=K){printf("wrong %f\n",c[0]);}
    free(a);free(b);free(c);}
  printf("ok ticks=%ld\n",ticks);
}
