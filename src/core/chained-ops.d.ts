// Type-only: brings tfjs-core's declarations of the chained tensor methods (x.reshape, x.sum, …)
// into the program. The methods themselves are installed at run time by ./tf.ts.
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
