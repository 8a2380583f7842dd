/* A fixed pool of worker threads that runs "task i of n" loops.  The
 * calling thread works too, so a pool of `threads` keeps exactly `threads`
 * threads busy. */
#ifndef VGG_POOL_PRIVATE_H
#define VGG_POOL_PRIVATE_H

typedef struct VggPool VggPool;

/* task: 0 .. n_tasks-1; thread: 0 .. threads-1, for per-thread scratch. */
typedef void (*VggTaskFunc) (void *user_data, int task, int thread);

/* NULL on failure (threads could not be started). */
VggPool *vgg_pool_new (int threads);
void vgg_pool_free (VggPool *pool);
int vgg_pool_get_threads (const VggPool *pool);

/* Runs func for every task and returns when all are done. */
void vgg_pool_run (
    VggPool *pool, int n_tasks, VggTaskFunc func, void *user_data);

#endif
