// Renders RELIABILITY.md once every case has written its row (chaos/reliability.mjs).
import { renderReliability } from './reliability.mjs';

export default function setup(): () => void {
  return () => {
    renderReliability();
  };
}
