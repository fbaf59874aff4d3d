import { getJson, messageOf, postEmpty } from '../api.js';
import type { Job } from '../api-types.js';
import { emit } from '../app-events.js';
import { formatPercent, h } from '../dom.js';
import { ListCard } from './list-card.js';

/** Jobs, newest first, with status, a link to watch each and a cancel button while it can still stop. */
export function jobsListView(): ListCard<Job> {
  const card: ListCard<Job> = new ListCard<Job>(
    'Jobs',
    'jobs',
    async () => (await getJson<{ jobs: Job[] }>('/v1/jobs?limit=20')).jobs,
    (job) => [
      h(
        'button',
        { type: 'button', class: 'link', onclick: () => emit('job-selected', job.id) },
        h('code', {}, job.id),
      ),
      ' ',
      h('span', { class: `status status-${job.status}` }, job.status),
      h(
        'span',
        { class: 'muted' },
        ` ${job.architecture}`,
        job.status === 'running' ? ` · ${formatPercent(job.progress, 0)}` : '',
      ),
      job.status === 'queued' || job.status === 'running'
        ? h(
            'button',
            {
              type: 'button',
              class: 'danger small',
              'aria-label': `Cancel job ${job.id}`,
              onclick: async (event: Event) => {
                const button = event.currentTarget as HTMLButtonElement;
                button.disabled = true;
                try {
                  await postEmpty(`/v1/jobs/${encodeURIComponent(job.id)}/cancel`);
                } catch (error) {
                  button.textContent = messageOf(error);
                }
                await card.refresh();
              },
            },
            'Cancel',
          )
        : null,
    ],
    'No jobs yet.',
  );
  return card;
}
