#include "vgg-pool-private.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct
{
  VggPool *pool;
  int index;
} Worker;

struct VggPool
{
  int threads;
  pthread_t *handles; /* threads - 1 workers; the caller is thread 0 */
  Worker *workers;
  int n_started;

  pthread_mutex_t lock;
  pthread_cond_t wake; /* a new job, or quit */
  pthread_cond_t done; /* the last worker left the job */
  unsigned generation;
  int quit;
  int active; /* workers still inside the current job */

  /* the current job */
  VggTaskFunc func;
  void *user_data;
  int n_tasks;
  atomic_int next_task;
};

static void
run_tasks (VggPool *pool, int thread)
{
  for (;;) {
    int task = atomic_fetch_add (&pool->next_task, 1);
    if (task >= pool->n_tasks)
      break;
    pool->func (pool->user_data, task, thread);
  }
}

static void *
worker_main (void *data)
{
  Worker *worker = data;
  VggPool *pool = worker->pool;
  unsigned seen = 0;

  pthread_mutex_lock (&pool->lock);
  for (;;) {
    while (!pool->quit && pool->generation == seen)
      pthread_cond_wait (&pool->wake, &pool->lock);
    if (pool->quit)
      break;
    seen = pool->generation;
    pthread_mutex_unlock (&pool->lock);

    run_tasks (pool, worker->index);

    pthread_mutex_lock (&pool->lock);
    if (--pool->active == 0)
      pthread_cond_signal (&pool->done);
  }
  pthread_mutex_unlock (&pool->lock);
  return NULL;
}

VggPool *
vgg_pool_new (int threads)
{
  VggPool *pool = calloc (1, sizeof *pool);

  if (pool == NULL)
    return NULL;
  if (threads < 1)
    threads = 1;
  pool->threads = threads;
  pthread_mutex_init (&pool->lock, NULL);
  pthread_cond_init (&pool->wake, NULL);
  pthread_cond_init (&pool->done, NULL);
  atomic_init (&pool->next_task, 0);

  pool->handles = calloc (threads, sizeof *pool->handles);
  pool->workers = calloc (threads, sizeof *pool->workers);
  if (pool->handles == NULL || pool->workers == NULL)
    goto error;
  for (int i = 1; i < threads; i++) {
    pool->workers[i].pool = pool;
    pool->workers[i].index = i;
    if (pthread_create (&pool->handles[i], NULL, worker_main, &pool->workers[i])
        != 0)
      goto error;
    pool->n_started++;
  }
  return pool;

error:
  vgg_pool_free (pool);
  return NULL;
}

void
vgg_pool_free (VggPool *pool)
{
  if (pool == NULL)
    return;
  pthread_mutex_lock (&pool->lock);
  pool->quit = 1;
  pthread_cond_broadcast (&pool->wake);
  pthread_mutex_unlock (&pool->lock);
  for (int i = 1; i <= pool->n_started; i++)
    pthread_join (pool->handles[i], NULL);
  pthread_cond_destroy (&pool->done);
  pthread_cond_destroy (&pool->wake);
  pthread_mutex_destroy (&pool->lock);
  free (pool->workers);
  free (pool->handles);
  free (pool);
}

int
vgg_pool_get_threads (const VggPool *pool)
{
  return pool->threads;
}

void
vgg_pool_run (VggPool *pool, int n_tasks, VggTaskFunc func, void *user_data)
{
  if (n_tasks <= 0)
    return;
  /* Small jobs run on the caller alone: waking workers costs more. */
  if (n_tasks == 1 || pool->threads == 1) {
    for (int i = 0; i < n_tasks; i++)
      func (user_data, i, 0);
    return;
  }

  pthread_mutex_lock (&pool->lock);
  pool->func = func;
  pool->user_data = user_data;
  pool->n_tasks = n_tasks;
  atomic_store (&pool->next_task, 0);
  pool->active = pool->threads - 1;
  pool->generation++;
  pthread_cond_broadcast (&pool->wake);
  pthread_mutex_unlock (&pool->lock);

  run_tasks (pool, 0);

  pthread_mutex_lock (&pool->lock);
  while (pool->active > 0)
    pthread_cond_wait (&pool->done, &pool->lock);
  pthread_mutex_unlock (&pool->lock);
}
