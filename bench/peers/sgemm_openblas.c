// sgemm_openblas: the OpenBLAS peer of `align bench kernels` for SGEMM.
//
// Times cblas_sgemm, row-major, C = A·B, A·Bᵀ and Aᵀ·B on the M=512 shapes of the align
// benchmark (or the shapes given as M,K,N arguments), best of several runs, and prints one JSON
// object per line with the fields of `align bench kernels --json`. Build and run it with
// sgemm_openblas.sh (which sets OPENBLAS_CORETYPE=SkylakeX: without it Debian's OpenBLAS runs
// SSE3 "Prescott" kernels on this CPU). Threads: OPENBLAS_NUM_THREADS.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static clockid_t clk = CLOCK_MONOTONIC;

static double now(void) {
	struct timespec ts;
	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
	int shapes[16][3] = {{512, 576, 576}, {512, 576, 1536}, {512, 1536, 576}, {512, 896, 4864}, {512, 576, 49152}};
	int nshapes = 5;
	double min_time = 1.0;
	const char *env = getenv("SGEMM_MIN_TIME");
	if (env) min_time = atof(env);
	if (argc > 1) {
		nshapes = 0;
		for (int i = 1; i < argc && nshapes < 16; i++) {
			if (sscanf(argv[i], "%d,%d,%d", &shapes[nshapes][0], &shapes[nshapes][1], &shapes[nshapes][2]) == 3) nshapes++;
		}
	}
	const char *threads = getenv("OPENBLAS_NUM_THREADS");
	// SGEMM_CLOCK=cpu with one thread: time by the thread's CPU time, like
	// `align bench kernels --cpu-time` (the OpenBLAS work runs on the calling thread).
	const char *clock_env = getenv("SGEMM_CLOCK");
	int cpu = clock_env && strcmp(clock_env, "cpu") == 0 && threads && strcmp(threads, "1") == 0;
	if (cpu) clk = CLOCK_THREAD_CPUTIME_ID;
	const char *core = getenv("OPENBLAS_CORETYPE");
	for (int s = 0; s < nshapes; s++) {
		int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
		float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n), *c = malloc(sizeof(float) * m * n);
		for (long i = 0; i < (long)m * k; i++) a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
		for (long i = 0; i < (long)k * n; i++) b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
		const char *names[3] = {"NN", "NT", "TN"};
		for (int t = 0; t < 3; t++) {
			enum CBLAS_TRANSPOSE ta = t == 2 ? CblasTrans : CblasNoTrans;
			enum CBLAS_TRANSPOSE tb = t == 1 ? CblasTrans : CblasNoTrans;
			int lda = ta == CblasTrans ? m : k, ldb = tb == CblasTrans ? k : n;
			cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
			double best = 1e30, end = now() + min_time;
			int reps = 0;
			while (reps < 3 || now() < end) {
				double t0 = now();
				cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
				double el = now() - t0;
				if (el < best) best = el;
				reps++;
			}
			double gflops = 2.0 * m * n * k / best / 1e9;
			printf("{\"kernel\":\"sgemm\",\"shape\":\"%s M=%d K=%d N=%d\",\"isa\":\"openblas-%s\",\"threads\":%s,"
			       "\"ns_per_op\":%.0f,\"gbps\":0,\"gflops\":%.2f,\"limit_gbps\":0,\"limit_gflops\":0,\"ratio\":0,\"clock\":\"%s\",\"peer\":\"openblas\"}\n",
			       names[t], m, k, n, core ? core : "auto", threads ? threads : "0", best * 1e9, gflops, cpu ? "cpu" : "wall");
			fflush(stdout);
		}
		free(a);
		free(b);
		free(c);
	}
	return 0;
}
