// The PersistentVolume provider object, as this module's exports: an installed package serializes it as a require() (../provider.ts).
import { makeProvider } from '../provider';

export = makeProvider('PersistentVolume');
