// A CSV download behind a button: busy while it runs, a toast when it fails (the file itself is
// saved by the browser, so success needs no word).
import { ref } from 'vue';
import { t } from '../../i18n/index.ts';
import { errorMessage } from '../../lib/api.ts';
import { toast } from '../../ui/Toast/toasts.ts';

export function useCsvDownload() {
  const downloading = ref(false);
  async function download(fetchFile: () => Promise<unknown>) {
    downloading.value = true;
    try {
      await fetchFile();
    } catch (err) {
      toast(t('reports.downloadFailed'), { tone: 'danger', description: errorMessage(err, t('common.unreachable')) });
    } finally {
      downloading.value = false;
    }
  }
  return { downloading, download };
}
